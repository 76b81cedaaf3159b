import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** What came back on a raw connection: the status (0 when the server closed without answering). */
export interface RawResponse {
  status: number;
  head: string;
  body: string;
  /** How the exchange ended: the server answered and/or closed, or our own deadline passed. */
  ended: 'closed' | 'timeout';
}

/** host and port of a base URL such as http://127.0.0.1:41234 */
export function addressOf(baseUrl: string): { host: string; port: number } {
  const url = new URL(baseUrl);
  return { host: url.hostname, port: Number(url.port) };
}

/**
 * Sends exactly `bytes` on a fresh TCP connection (no client library that could tidy them up) and
 * reads until the server closes or `timeoutMs` passes. Requests should carry `Connection: close`.
 */
export function rawRequest(baseUrl: string, bytes: Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect(addressOf(baseUrl));
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ended: RawResponse['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponse(Buffer.concat(chunks).toString('utf8'), ended));
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish('closed'));
    // The server may answer (and close) before it has read everything: that is not an error here.
    socket.write(bytes, () => undefined);
  });
}

function parseResponse(text: string, ended: RawResponse['ended']): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, head, body: split === -1 ? '' : text.slice(split + 4), ended };
}

/** One part of a hand-made multipart body. */
export interface RawPart {
  /** Header lines of the part, exactly as sent. */
  headers: string[];
  body: Buffer | string;
}

export const newBoundary = (): string => `----pixa${randomBytes(12).toString('hex')}`;

/** A file part as a browser sends it. */
export function filePart(filename: string, data: Buffer | string, type = 'application/octet-stream'): RawPart {
  return {
    headers: [`Content-Disposition: form-data; name="file"; filename="${filename}"`, `Content-Type: ${type}`],
    body: data,
  };
}

/** A multipart/form-data body from parts, with the closing delimiter. */
export function multipartBody(boundary: string, parts: RawPart[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`, 'utf8'));
    chunks.push(typeof part.body === 'string' ? Buffer.from(part.body, 'latin1') : part.body);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** The request line and headers of an upload whose body is `length` bytes long. */
export function uploadHead(
  baseUrl: string,
  token: string,
  boundary: string,
  length: number,
  path = '/api/v1/images',
): Buffer {
  const { host, port } = addressOf(baseUrl);
  return Buffer.from(
    `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
}

/** A whole upload request, head and body, ready for rawRequest. */
export function uploadRequest(baseUrl: string, token: string, boundary: string, body: Buffer): Buffer {
  return Buffer.concat([uploadHead(baseUrl, token, boundary, body.length), body]);
}
