// The filter shorthand: each filter's CEL, how &, |, ! and parentheses combine (with the
// parentheses CEL needs), and errors that point at the column of the problem.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileExpression } from '../../policies/cel.js';
import { ExpressionError } from '../../policies/cel.js';
import { isShorthand, SHORTHANDS, shorthandToCel } from '../../tui/shorthand.js';

function errorOf(input: string): ExpressionError {
  try {
    shorthandToCel(input);
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  assert.fail(`"${input}" compiled`);
}

describe('shorthand to CEL', () => {
  test('the filters the issue names', () => {
    assert.equal(shorthandToCel('~proto mcp'), 'protocol == "mcp"');
    assert.equal(shorthandToCel('~tool delete'), 'mcp.tool.contains("delete")');
    assert.equal(shorthandToCel('~model gpt'), 'llm.model.contains("gpt")');
    assert.equal(shorthandToCel('~status error'), 'exchange.status == "error"');
    assert.equal(shorthandToCel('~status 404'), 'exchange.http_status == 404');
    assert.equal(shorthandToCel('~denied'), 'exchange.status == "denied"');
  });

  test('&, |, ! and parentheses, and juxtaposition as &', () => {
    assert.equal(shorthandToCel('~proto mcp & !~denied'), 'protocol == "mcp" && !(exchange.status == "denied")');
    assert.equal(shorthandToCel('~proto mcp ~tool rm'), 'protocol == "mcp" && mcp.tool.contains("rm")');
    assert.equal(shorthandToCel('~denied | ~error & ~proto llm'), 'exchange.status == "denied" || exchange.status == "error" && protocol == "llm"');
    assert.equal(shorthandToCel('(~denied | ~error) & ~proto llm'), '(exchange.status == "denied" || exchange.status == "error") && protocol == "llm"');
    assert.equal(shorthandToCel('!(~proto llm | ~proto a2a)'), '!(protocol == "llm" || protocol == "a2a")');
    assert.equal(shorthandToCel('~slow 500 & ~tokens 1000'), 'exchange.duration_ms > 500.0 && usage.total_tokens > 1000');
    assert.equal(shorthandToCel('~tool "my tool"'), 'mcp.tool.contains("my tool")');
  });

  test('every filter compiles to CEL the shared vocabulary accepts', () => {
    for (const [name, filter] of Object.entries(SHORTHANDS)) {
      const input = filter.arg === 'none' ? `~${name}` : `~${name} ${filter.arg === 'number' ? '12' : 'x"y'}`;
      const cel = shorthandToCel(input);
      assert.doesNotThrow(() => compileExpression(cel), `${input} -> ${cel}`);
      assert.doesNotThrow(() => compileExpression(shorthandToCel(`!${input} | ${input}`)));
    }
  });

  test('errors carry the offset of the problem', () => {
    assert.deepEqual([errorOf('~proto mcp & ~bogus x').offset, errorOf('~proto mcp & ~bogus x').message.startsWith('unknown filter ~bogus')], [13, true]);
    assert.equal(errorOf('~proto').offset, 6);
    assert.match(errorOf('~proto').message, /~proto needs a value/);
    assert.equal(errorOf('~slow fast').offset, 6);
    assert.equal(errorOf('~proto mcp )').offset, 11);
    assert.equal(errorOf('(~proto mcp').offset, 11);
    assert.equal(errorOf('~tool "open').offset, 6);
    assert.equal(errorOf('~proto mcp mcp').offset, 11);
  });

  test('shorthand is told from CEL by its first term', () => {
    assert.equal(isShorthand('~proto mcp'), true);
    assert.equal(isShorthand('!(~denied)'), true);
    assert.equal(isShorthand('protocol == "mcp"'), false);
    assert.equal(isShorthand('mcp.tool.contains("~x")'), false);
  });
});
