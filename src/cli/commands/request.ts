/**
 * hosthog request ID -m "could I have gpu1 from 15:00?": ask the holder of a claim for it. On
 * the host over the bridge (the holder is told at once); off it with --host, in the host's
 * calendar. Stored in the claim's event (X-HOSTHOG-REQUEST, If-Match); `hosthog status` shows
 * it until the holder closes it (--close) or the claim ends.
 */
import type { GlobalOptions } from '../main.js';
import { callWrite } from '../transport.js';
import { UsageError } from '../../core/errors.js';
import { printResult } from '../output.js';

export async function request(
  g: GlobalOptions,
  id: string,
  o: { note?: string; close?: boolean; json?: boolean },
): Promise<void> {
  if (!o.close && !o.note)
    throw new UsageError('request what?', 'e.g. hosthog request 6f1c -m "could I have gpu1 from 15:00?"');
  if (o.close && o.note) throw new UsageError('--close and -m contradict each other', 'pick one');
  printResult(
    await callWrite(g, 'request', o.close ? { uid: id, close: true } : { uid: id, text: o.note }),
    o.json,
  );
}
