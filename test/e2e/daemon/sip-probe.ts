/** A raw SIP OPTIONS over UDP or TCP on loopback, resolving with the status line of the answer. */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';

function optionsRequest(port: number, transport: 'UDP' | 'TCP' | 'TLS', localPort: number): string {
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  return [
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/${transport} 127.0.0.1:${localPort};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: ${randomBytes(8).toString('hex')}@127.0.0.1`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:probe@127.0.0.1:${localPort}>`,
    'Accept: application/sdp',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

export function optionsOverUdp(port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => { socket.close(); reject(new Error(`no answer to OPTIONS over UDP on port ${port} within ${timeoutMs} ms`)); }, timeoutMs);
    socket.on('message', (msg) => {
      const text = msg.toString();
      if (/^SIP\/2.0 1\d\d/.test(text)) return;
      clearTimeout(timer);
      socket.close();
      resolve(text);
    });
    socket.bind(0, '127.0.0.1', () => {
      const req = optionsRequest(port, 'UDP', socket.address().port);
      socket.send(req, port, '127.0.0.1');
    });
  });
}

export function optionsOverTcp(port: number, timeoutMs = 3000): Promise<string> {
  return overStream(port, 'TCP', timeoutMs);
}

/** TLS without certificate verification: the tests use a throw-away self-signed certificate. */
export function optionsOverTls(port: number, timeoutMs = 3000): Promise<string> {
  return overStream(port, 'TLS', timeoutMs);
}

function overStream(port: number, transport: 'TCP' | 'TLS', timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = transport === 'TLS'
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to OPTIONS over ${transport} on port ${port} within ${timeoutMs} ms`)); }, timeoutMs);
    socket.on('error', (e: Error) => { clearTimeout(timer); reject(e); });
    socket.on(transport === 'TLS' ? 'secureConnect' : 'connect', () => socket.write(optionsRequest(port, transport, socket.localPort ?? 0)));
    socket.on('data', (d: Buffer) => {
      data += d.toString();
      const end = data.indexOf('\r\n\r\n');
      if (end < 0 || /^SIP\/2.0 1\d\d/.test(data)) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(data);
    });
  });
}
