#!/usr/bin/env node
// Check every line of `conformance vectors` against signing code written with Node's built-ins only (no packages).
//
//     conformance vectors --count 10000 --seed 1 > vectors.jsonl
//     node verify.mjs vectors.jsonl          # or: conformance vectors --count 10000 | node verify.mjs -
//
// Node has a GBK decoder (TextDecoder('gbk')) but no GBK encoder, so a notification vector is checked in two halves:
// the canonical string this script builds must be what the vector's GBK bytes (`canonical_gbk_hex`) decode to, and
// the MD5 of those bytes must be the expected sign. A receiver in Node needs an encoder for the second half (the
// `iconv-lite` package is the usual one): put it in notifySign() below. TOP signs are over UTF-8 and fully checked.
// Exit 0 when every vector passes, 1 otherwise (the first failures are printed), 2 on unreadable input.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const SCHEMA = 'eticket-sign-vector/1';
const gbkDecoder = new TextDecoder('gbk', { fatal: true });

// --- The rules. -------------------------------------------------------------------------------------------------

/** Every param but `sign`, empty values left out, sorted by name in byte order. */
function signedPairs(params, includeEmpty = false) {
  return Object.entries(params)
    .filter(([name, value]) => name !== 'sign' && (includeEmpty || value !== ''))
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

const concat = (pairs) => pairs.map(([name, value]) => name + value).join('');
const md5Hex = (bytes) => createHash('md5').update(bytes).digest('hex').toUpperCase();

/** What GBK bytes decode back to: each character GBK cannot encode (beyond U+FFFF here) is one '?' (§3.3 step 5). */
const asGbkSees = (text) => Array.from(text, (c) => (c.codePointAt(0) > 0xffff ? '?' : c)).join('');

/** How many GBK bytes a text takes: 1 for ASCII and for '?', 2 for every other character the vectors use. */
const gbkLength = (text) => Array.from(text, (c) => (c.codePointAt(0) < 0x80 || c.codePointAt(0) > 0xffff ? 1 : 2)).reduce((a, b) => a + b, 0);

/** The notification sign from the GBK bytes of key + name1value1…: what your receiver computes (PROTOCOL §3.3). */
function notifySign(gbkBytes) {
  return md5Hex(gbkBytes);
}

/** A TOP call's sign (PROTOCOL §4.4) over UTF-8, empty values skipped unless asked. */
function topSign(secret, signMethod, params, includeEmpty = false) {
  const text = Buffer.from(concat(signedPairs(params, includeEmpty)), 'utf8');
  const key = Buffer.from(secret, 'utf8');
  switch (signMethod) {
    case 'md5': return md5Hex(Buffer.concat([key, text, key]));
    case 'hmac': return createHmac('md5', key).update(text).digest('hex').toUpperCase();
    case 'hmac-sha256': return createHmac('sha256', key).update(text).digest('hex').toUpperCase();
    default: throw new Error(`unknown sign_method ${signMethod}`);
  }
}

const sameSign = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

// --- The near misses Node can recompute without a GBK encoder. ---------------------------------------------------

/** The GBK bytes of the canonical string with empty values signed as name + "": the non-empty pairs' bytes are cut
 *  out of the vector's bytes (in order, by length), the empty ones are their ASCII names. */
function withEmptiesIncluded(vector, bytes) {
  const slices = new Map();
  let at = Buffer.byteLength(vector.key);
  for (const [name, value] of signedPairs(vector.params)) {
    const length = gbkLength(name + value);
    slices.set(name, bytes.subarray(at, at + length));
    at += length;
  }
  const pieces = signedPairs(vector.params, true).map(([name]) => slices.get(name) ?? Buffer.from(name, 'latin1'));
  return Buffer.concat([bytes.subarray(0, Buffer.byteLength(vector.key)), ...pieces]);
}

const NOTIFY_MISTAKES = {
  utf8_instead_of_gbk: (v) => md5Hex(Buffer.from(v.key + concat(signedPairs(v.params)), 'utf8')),
  key_at_both_ends: (v, m, bytes) => md5Hex(Buffer.concat([bytes, Buffer.from(v.key)])),
  empty_values_signed: (v, m, bytes) => md5Hex(withEmptiesIncluded(v, bytes)),
  // The keys are ASCII, so swapping them swaps the same bytes in GBK.
  app_secret_instead_of_notify_key: (v, m, bytes) =>
    md5Hex(Buffer.concat([Buffer.from(m.other_secret), bytes.subarray(Buffer.byteLength(v.key))])),
};

const TOP_MISTAKES = {
  signed_as_md5: (v) => topSign(v.secret, 'md5', v.params),
  signed_as_hmac: (v) => topSign(v.secret, 'hmac', v.params),
  signed_as_hmac_sha256: (v) => topSign(v.secret, 'hmac-sha256', v.params),
  secret_in_front_only: (v) => md5Hex(Buffer.from(v.secret + concat(signedPairs(v.params)), 'utf8')),
  notify_key_instead_of_app_secret: (v, m) => topSign(m.other_secret, v.sign_method, v.params),
  // gbk_instead_of_utf8 and notification_scheme hash GBK bytes of text that has none in the vector: checked only to
  // differ from the expected sign.
};

// --- Checking one vector. ---------------------------------------------------------------------------------------

function check(v, stats) {
  if (v.schema !== SCHEMA) return [`schema ${v.schema}, this script reads ${SCHEMA}`];
  const errors = [];
  let got;
  let bytes;
  let mistakes;
  if (v.kind === 'notify') {
    bytes = Buffer.from(v.canonical_gbk_hex, 'hex');
    const built = asGbkSees(v.key + concat(signedPairs(v.params)));
    const decoded = gbkDecoder.decode(bytes);
    if (decoded !== built) errors.push(`canonical string: built ${JSON.stringify(built)}, the GBK bytes hold ${JSON.stringify(decoded)}`);
    got = notifySign(bytes);
    mistakes = NOTIFY_MISTAKES;
  } else {
    if (v.sign_method !== (v.params.sign_method ?? 'md5')) errors.push(`sign_method ${v.sign_method} is not the params' one`);
    got = topSign(v.secret, v.sign_method, v.params);
    // The gateway also accepts empty values signed as name + "" (the Python and Node SDKs do that, PROTOCOL §4.4).
    const hasEmpty = Object.entries(v.params).some(([name, value]) => name !== 'sign' && value === '');
    const also = hasEmpty ? [topSign(v.secret, v.sign_method, v.params, true)] : [];
    if (JSON.stringify(also) !== JSON.stringify(v.also_accepted)) errors.push(`also_accepted ${v.also_accepted} != ${also}`);
    mistakes = TOP_MISTAKES;
  }
  if (!sameSign(got, v.expected_sign)) {
    const named = v.near_misses.find((m) => m.sign === got);
    errors.push(`sign ${got} != expected ${v.expected_sign}${named ? ` (that is the mistake ${named.mistake})` : ''}`);
  }
  if (v.params.sign !== v.expected_sign) errors.push("the params' sign is not the expected sign");
  for (const m of v.near_misses) {
    if (m.sign === v.expected_sign) errors.push(`near miss ${m.mistake} gives the expected sign`);
    const compute = mistakes[m.mistake];
    if (!compute) {
      stats.differOnly += 1;
      continue;
    }
    const sign = compute(v, m, bytes);
    if (sign !== m.sign) errors.push(`near miss ${m.mistake}: ${sign} != ${m.sign}`);
    else stats.nearMisses += 1;
  }
  return errors;
}

async function main() {
  const source = process.argv[2] ?? '-';
  const input = source === '-' ? process.stdin : createReadStream(source);
  const stats = { notify: 0, top: 0, nearMisses: 0, differOnly: 0 };
  let failures = 0;
  let number = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    number += 1;
    let vector;
    try {
      vector = JSON.parse(line);
    } catch (e) {
      console.error(`line ${number}: not JSON: ${e.message}`);
      return 2;
    }
    const errors = check(vector, stats);
    stats[vector.kind] += 1;
    if (errors.length > 0) {
      failures += 1;
      if (failures <= 10) console.log(`FAIL line ${number} (seed ${vector.seed}, index ${vector.index}): ${errors.join('; ')}`);
    }
  }
  const total = stats.notify + stats.top;
  console.log(`${total - failures} of ${total} vectors pass (${stats.notify} notify, ${stats.top} top); `
    + `${stats.nearMisses} near misses recomputed, ${stats.differOnly} checked only to differ`);
  return failures > 0 || total === 0 ? 1 : 0;
}

process.exitCode = await main();
