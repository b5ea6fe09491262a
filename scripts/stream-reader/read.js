#!/usr/bin/env node
// Reads the events a ringlog shipper put into a NATS JetStream stream, in either form (blocks,
// or events one a message), checks them, and prints one JSON line an event, the lines
// `ringlog dump --json` prints for the same events. A reader in a second language, written
// from src/README.md's "Block format" alone; `npm ci` here installs its one dependency, the
// official NATS client.
//
// usage: node read.js --nats URL --stream NAME --subject SUBJECT
// Exit status 0 when every event up to the subject's newest was read; 1 on a damaged block, a
// gap, or a message that is not ringlog's (said on stderr); 2 on bad arguments.
"use strict";

const { connect } = require("nats");
const zlib = require("zlib");

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI and ringlog compute it.
const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
function crc32c(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

class Damage extends Error {}

function number(headers, key) {
  const text = headers ? headers.get(key) : "";
  if (!/^[0-9]+$/.test(text)) throw new Damage(`the ${key} header is missing or not a number`);
  return BigInt(text);
}

function hex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

// The line `ringlog dump --json` prints: 64-bit numbers written out in full, never rounded.
function line(sequence, timestamp, type, flags, payload) {
  return `{"sequence":${sequence},"timestamp":${timestamp},"event_type":${type},` +
    `"flags":${flags},"payload_len":${payload.length},"payload":"${hex(payload)}"}`;
}

// The block's body as it was before compression.
function bodyOf(message, bodyBytes) {
  const compression = message.headers.get("Ringlog-Compression");
  let body = message.data;
  if (compression === "zstd" && typeof zlib.zstdDecompressSync === "function") {
    body = new Uint8Array(zlib.zstdDecompressSync(body));
  } else if (compression !== "") {
    throw new Damage(`it is compressed with "${compression}", which this Node.js cannot ` +
      `decompress (zstd needs Node.js 22.15 or later; ship with --compress none for it)`);
  }
  if (BigInt(body.length) !== bodyBytes) {
    throw new Damage(`its body has ${body.length} bytes, its Ringlog-Body-Bytes header says ${bodyBytes}`);
  }
  return body;
}

// Every event of a block, checked before any is printed: [sequence, line] pairs.
function blockEvents(message) {
  const h = message.headers;
  if (number(h, "Ringlog-Block") !== 1n) throw new Damage(`it is of block version ${h.get("Ringlog-Block")}`);
  const first = number(h, "Ringlog-First-Sequence");
  const count = Number(number(h, "Ringlog-Count"));
  const body = bodyOf(message, number(h, "Ringlog-Body-Bytes"));
  const crc = crc32c(body);
  if (BigInt(crc) !== number(h, "Ringlog-Crc32c")) {
    throw new Damage(`its body's CRC-32C is ${crc}, its Ringlog-Crc32c header says ${h.get("Ringlog-Crc32c")}`);
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const events = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (body.length - at < 16) throw new Damage("it ends inside an event");
    const timestamp = view.getBigUint64(at, true);
    const type = view.getUint8(at + 8);
    const flags = view.getUint8(at + 9);
    const length = view.getUint16(at + 10, true);
    const size = (16 + length + 7) & ~7;  // header, payload, zeros to a multiple of 8
    if (body.length - at < size) throw new Damage("it ends inside an event");
    if (flags & 0x80) throw new Damage("it holds a journal framing record");
    const sequence = first + BigInt(i);
    events.push([sequence, line(sequence, timestamp, type, flags, body.subarray(at + 16, at + 16 + length))]);
    at += size;
  }
  if (at !== body.length) throw new Damage(`it holds ${body.length - at} bytes past its ${count} events`);
  return events;
}

function eventOf(message) {
  const h = message.headers;
  const sequence = number(h, "Nats-Msg-Id");
  return [[sequence, line(sequence, number(h, "Ringlog-Timestamp"), number(h, "Ringlog-Event-Type"),
    number(h, "Ringlog-Flags"), message.data)]];
}

function argumentsOf(argv) {
  const options = {};
  for (let i = 0; i + 1 < argv.length; i += 2) options[argv[i].replace(/^--/, "")] = argv[i + 1];
  if (!options.nats || !options.stream || !options.subject) {
    console.error("usage: node read.js --nats URL --stream NAME --subject SUBJECT");
    process.exit(2);
  }
  return options;
}

async function main() {
  // A reader of our output that stops early (`| head`) ends us quietly.
  process.stdout.on("error", (error) => process.exit(error.code === "EPIPE" ? 0 : 1));
  const options = argumentsOf(process.argv.slice(2));
  const nc = await connect({ servers: options.nats.split(",") });
  let newest;
  try {
    const jsm = await nc.jetstreamManager();
    newest = (await jsm.streams.getMessage(options.stream, { last_by_subj: options.subject })).seq;
  } catch (error) {
    if (!String(error.message).includes("no message found")) throw error;
    await nc.close();
    return;  // nothing shipped yet
  }
  const consumer = await nc.jetstream().consumers.get(options.stream, { filterSubjects: options.subject });
  const messages = await consumer.consume();
  let expected = null;
  for await (const message of messages) {
    let events;
    try {
      events = message.headers && message.headers.has("Ringlog-Block") ? blockEvents(message) : eventOf(message);
    } catch (error) {
      if (!(error instanceof Damage)) throw error;
      throw new Damage(`stream message ${message.seq} is damaged, or not ringlog's: ${error.message}`);
    }
    for (const [sequence, text] of events) {
      if (expected !== null && sequence !== expected) {
        throw new Damage(`stream message ${message.seq} carries event ${sequence} where ${expected} was next: a gap`);
      }
      expected = sequence + 1n;
      process.stdout.write(text + "\n");
    }
    if (message.seq >= newest) break;
  }
  await nc.close();
}

main().catch((error) => {
  console.error(`read.js: ${error.message}`);
  process.exit(1);
});
