// Actions on the selected exchange that other parts of tapwire provide. The TUI binds a key
// only for the hooks set here, so every key it lists does something. Wiring point for
// replay (`r`) and JSONL export (`J`): set the hooks to the shared store/export modules.
export interface ActionHooks {
  /** Sends the recorded exchange again; resolves to a line for the status bar. */
  replay?: (dbPath: string, id: string) => Promise<string>;
  /** Writes the exchange as JSONL; resolves to the file written. */
  exportJsonl?: (dbPath: string, id: string) => Promise<string>;
}

export const actionHooks: ActionHooks = {};
