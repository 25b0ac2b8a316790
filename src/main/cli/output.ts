/** Prints a command's result: the JSON value with --json, the text otherwise. */
export function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

/**
 * Text someone else wrote (a key's label, a reviewer's name), made safe to print on a terminal:
 * control characters (escape sequences could rewrite the screen or hide a line) are shown as \u{…}.
 */
export function terminalSafe(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
