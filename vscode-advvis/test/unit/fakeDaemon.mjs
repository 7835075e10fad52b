// A stand-in daemon for client tests: JSON-RPC over stdio with vscode-jsonrpc, a few methods, progress, cancellation,
// unknown methods answered -32601 by the library, and `test/crash` to die like a real crash.
import rpc from 'vscode-jsonrpc/node';
const { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } = rpc;
const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
const opened = [];
connection.onRequest('daemon/ping', () => ({ ok: true, version: 'fake-1' }));
connection.onRequest('model/open', params => { opened.push(params.path); return { handle: `h-${params.path.length}`, path: params.path, unsupported: [], edits: [] }; });
connection.onRequest('test/opened', () => ({ opened, pid: process.pid, cwd: process.cwd() }));
connection.onRequest('attack/run', async params => {
    const token = params.workDoneToken;
    await connection.sendProgress({ _type: undefined }, token, { kind: 'begin', title: 'attack', cancellable: true });
    await connection.sendProgress({ _type: undefined }, token, { kind: 'report', message: 'step 1', percentage: 50 });
    await connection.sendProgress({ _type: undefined }, token, { kind: 'end' });
    return { count: 1 };
});
connection.onRequest('explain/run', (_params, token) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ late: true }), 10000);
    token.onCancellationRequested(() => { clearTimeout(timer); reject(new ResponseError(-32800, 'cancelled')); });
}));
connection.onRequest('test/crash', () => { process.exit(3); });
connection.onRequest('shutdown', () => null);
connection.onNotification('exit', () => process.exit(0));
connection.listen();
