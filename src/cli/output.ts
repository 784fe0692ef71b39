/** Printing results: one readable line by default, JSON with --json. */
import { cleanText } from '../core/sanitize.js';

export function printResult(result: unknown, json?: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const r = result as { summary?: string } | null;
  process.stdout.write(
    (r && typeof r.summary === 'string' ? cleanText(r.summary, 300) : JSON.stringify(result)) + '\n',
  );
}
