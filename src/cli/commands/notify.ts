/** hosthog notify: a message to everyone logged in, signed by the bridge with the verified sender. */
import type { GlobalOptions } from '../main.js';
import { configFor } from '../context.js';
import { callBridge } from '../../host/rpc/rpc-client.js';
import { printResult } from '../output.js';

export async function notify(g: GlobalOptions, words: string[], o: { json?: boolean }): Promise<void> {
  const config = configFor(g);
  printResult(await callBridge(config.bridge.socket, { method: 'notify', params: { text: words.join(' ') } }), o.json);
}
