// Copying to the system clipboard from a terminal program: the OSC 52 escape, which the
// terminal (or tmux with set-clipboard on) turns into a clipboard write, also over SSH.
export function osc52(text: string): string {
  return `\x1b]52;c;${Buffer.from(text, 'utf8').toString('base64')}\x07`;
}
