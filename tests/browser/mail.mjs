// Reads the email the app really sent, as a person's mail client would: from the SMTP sink's
// Maildir (`new/` and `cur/`) or the file transport's `.eml` files. Only enough MIME for the
// app's own messages: multipart, base64, quoted-printable and RFC 2047 subjects.
import fs from 'node:fs';
import path from 'node:path';

function splitHead(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  if (at < 0) return [raw, ''];
  const sep = raw.slice(at).match(/^\r?\n\r?\n/)[0];
  return [raw.slice(0, at), raw.slice(at + sep.length)];
}

function parseHeaders(head) {
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function decodeQuotedPrintable(text) {
  const bytes = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeBody(body, encoding) {
  switch ((encoding || '').toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=\s*/g, (_, _charset, kind, text) =>
    kind.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : decodeQuotedPrintable(text.replace(/_/g, ' ')),
  );
}

/** The text/plain and text/html parts of one message. */
function parts(raw, found = { text: '', html: '' }) {
  const [head, body] = splitHead(raw);
  const headers = parseHeaders(head);
  const type = headers['content-type'] || 'text/plain';
  const boundary = type.match(/boundary="?([^";]+)"?/i);
  if (/^multipart\//i.test(type) && boundary) {
    const pieces = body.split(new RegExp(`\\r?\\n?--${boundary[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--')) break;
      parts(piece.replace(/^\r?\n/, ''), found);
    }
  } else if (/^text\/html/i.test(type)) {
    found.html ||= decodeBody(body, headers['content-transfer-encoding']);
  } else if (/^text\/plain/i.test(type)) {
    found.text ||= decodeBody(body, headers['content-transfer-encoding']);
  }
  return found;
}

export function parseMessage(raw) {
  const headers = parseHeaders(splitHead(raw)[0]);
  const to = (headers.to || '').match(/<([^>]+)>/)?.[1] ?? (headers.to || '').trim();
  return { to: to.toLowerCase(), subject: decodeWords(headers.subject || ''), ...parts(raw) };
}

export class Mailbox {
  /** `dirs`: folders holding one message per file. */
  constructor(dirs) {
    this.dirs = dirs;
    this.recipients = new Map(); // file -> recipient, so a busy Maildir is read once
    this.taken = new Set();
  }

  /** Waits (up to `ms`) for the next message to `to`, oldest first, not returned before. */
  async next(to, ms = 20000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const files = this.dirs
        .filter((dir) => fs.existsSync(dir))
        .flatMap((dir) => fs.readdirSync(dir).map((name) => path.join(dir, name)))
        .filter((file) => !this.taken.has(file))
        .map((file) => ({ file, mtime: fs.statSync(file).mtimeMs }))
        .sort((a, b) => a.mtime - b.mtime);
      for (const { file } of files) {
        if (!this.recipients.has(file)) {
          const raw = fs.readFileSync(file, 'utf8');
          const headers = parseHeaders(splitHead(raw)[0]);
          const address = (headers.to || '').match(/<([^>]+)>/)?.[1] ?? (headers.to || '').trim();
          this.recipients.set(file, address.toLowerCase());
        }
        if (this.recipients.get(file) === to.toLowerCase()) {
          this.taken.add(file);
          return parseMessage(fs.readFileSync(file, 'utf8'));
        }
      }
      if (Date.now() > deadline) throw new Error(`no email to ${to} arrived within ${ms / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** The address on the line of the text part that starts with `label` (e.g. "We met:"), or the
 * first address starting with `prefix`. */
export function linkIn(message, { label, prefix }) {
  const lines = message.text.split(/\r?\n/);
  const line = label ? lines.find((l) => l.trim().startsWith(label)) : lines.find((l) => l.includes(prefix));
  const url = line?.match(/https?:\/\/\S+/)?.[0];
  if (!url || (prefix && !url.startsWith(prefix))) {
    throw new Error(`no ${label || prefix} link in "${message.subject}":\n${message.text}`);
  }
  return url;
}
