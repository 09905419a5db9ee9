// Deterministic pseudo-random sources for the benchmark datasets.
// - Rng: a small seeded generator (sfc32) for decisions (sizes, picks, words).
// - randomBytes: AES-128-CTR keystream from a seed: fast, incompressible, reproducible.
import { createCipheriv, createHash } from 'node:crypto';

export class Rng {
  constructor(seed) {
    const h = createHash('sha256').update(String(seed)).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
    for (let i = 0; i < 16; i++) this.u32();
  }

  /** sfc32: a uniform 32-bit unsigned integer. */
  u32() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float() {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n) {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo, hi) {
    return lo + this.int(hi - lo + 1);
  }

  pick(list) {
    return list[this.int(list.length)];
  }

  /** k distinct indexes of [0, n), sorted (Floyd's algorithm). */
  sample(n, k) {
    k = Math.min(k, n);
    const chosen = new Set();
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      chosen.add(chosen.has(t) ? j : t);
    }
    return [...chosen].sort((x, y) => x - y);
  }
}

/** A reproducible stream of incompressible bytes (AES-128-CTR of zeros, keyed by `seed`). */
export function randomStream(seed) {
  const key = createHash('sha256').update(`key:${seed}`).digest().subarray(0, 16);
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return (n) => cipher.update(Buffer.alloc(n));
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no will can more other its into only time ' +
  'some could these two may then do first any my now such like our over man me even most made after also did many ' +
  'before must through back years where much your way well down should because each just those people how too little ' +
  'state good very make world still own see men work long get here between both life being under never day same ' +
  'another know while last might us great old year off come since against go came right used take three states ' +
  'himself few house use during without again place american around however home small found mrs thought went say ' +
  'part once general high upon school every don does got united left number course war until always away something ' +
  'fact though water less public put think almost hand enough far took head yet government system better set told ' +
  'nothing night end why called didn eyes find going look asked later knew point next program city business give ' +
  'group toward young days let room president side social given present several order national possible rather ' +
  'second face per among form important often things looked early white case john become large big need four within ' +
  'felt along children saw best church ever least power development light thing seemed family interest want members ' +
  'mind country area others done turned although open god service certain kind problem began different door thus ' +
  'help sense means whole matter perhaps itself york times law human line above name example action company hands ' +
  'local show whether five history gave today either act feet across taken past quite anything seen having death ' +
  'week experience body word half really field am car words already themselves information tell together college ' +
  'shall money period held keep sure probably free seems political real behind cannot miss question air office ' +
  'making brought whose special major heard problems ago became federal moment study available known result street ' +
  'economic boy position reason change south board individual job society areas west close turn love community true'
)
  .split(' ')
  .map((w) => Buffer.from(w));
const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Fills `buf` with English-like text (lowercase words, lines of 40–120 chars). */
export function fillText(rng, buf) {
  let i = 0;
  let line = 0;
  const end = buf.length;
  while (i < end) {
    const w = WORDS[rng.u32() % WORDS.length];
    const n = Math.min(w.length, end - i);
    w.copy(buf, i, 0, n);
    i += n;
    line += n;
    if (i >= end) break;
    if (line > 40 && (line > 120 || rng.u32() % 12 === 0)) {
      buf[i++] = NEWLINE;
      line = 0;
    } else {
      buf[i++] = SPACE;
      line++;
    }
  }
  return buf;
}

/** A few words of text as a string. */
export function words(rng, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[rng.u32() % WORDS.length].toString());
  return out.join(' ');
}
