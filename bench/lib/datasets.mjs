// The benchmark datasets, made deterministically at run time (never committed).
// Each has generate(dir) → writes the dataset into the new directory `dir`,
// and change(dir) → applies the dataset's change step in place. Both are
// deterministic: the same scale gives the same bytes on every machine.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fillText, randomStream, Rng, words } from './prng.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const MiB = 1024 * 1024;

/** Sorted relative paths of the regular files under `root` (symlinks and dirs excluded). */
export function listFiles(root) {
  const out = [];
  const walk = (rel) => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(r);
      else if (d.isFile()) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Edits ~1% of the files (an inserted line), adds and deletes a few: the tree and many-small change step. */
function changeFiles(root, seed, { editFraction = 0.01, addFraction = 0.001, deleteFraction = 0.001 } = {}) {
  const rng = new Rng(`${seed}:change`);
  const files = listFiles(root);
  const nEdit = Math.max(3, Math.round(files.length * editFraction));
  const nAdd = Math.max(3, Math.round(files.length * addFraction));
  const nDel = Math.max(3, Math.round(files.length * deleteFraction));
  const picks = rng.sample(files.length, nEdit + nDel);
  // Shuffle the picks deterministically, then split into edits and deletes.
  for (let i = picks.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [picks[i], picks[j]] = [picks[j], picks[i]];
  }
  const edits = picks.slice(0, nEdit).map((i) => files[i]);
  const dels = picks.slice(nEdit).map((i) => files[i]);
  for (const rel of edits) {
    const p = path.join(root, rel);
    const old = fs.readFileSync(p);
    const at = old.length === 0 ? 0 : rng.int(old.length);
    const line = Buffer.from(`\n/* cairn-bench edit: ${words(rng, 6)} */\n`);
    fs.writeFileSync(p, Buffer.concat([old.subarray(0, at), line, old.subarray(at)]));
  }
  for (const rel of dels) fs.rmSync(path.join(root, rel));
  const dirs = [...new Set(files.map((f) => path.posix.dirname(f)))].sort();
  for (let i = 0; i < nAdd; i++) {
    const dir = rng.pick(dirs);
    const body = fillText(rng, Buffer.alloc(rng.range(200, 6000)));
    fs.writeFileSync(path.join(root, dir === '.' ? '' : dir, `cairn-bench-added-${i}.txt`), body);
  }
  return { edited: edits.length, added: nAdd, deleted: dels.length };
}

// ---------------------------------------------------------------- tree

function treeDataset(scale) {
  const fixture = path.join(HERE, '..', 'datasets', scale < 1 ? 'tree-quick' : 'tree');
  return {
    name: 'tree',
    description:
      scale < 1
        ? 'npm ci of a small pinned set (lodash, rxjs): bench/datasets/tree-quick'
        : 'npm ci of a pinned set of 20 packages (typescript, webpack, eslint, jest, babel, mui, aws-sdk, ...; ~36k files, ~300 MB): bench/datasets/tree',
    generate(dir) {
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
      execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, npm_config_update_notifier: 'false' },
      });
    },
    change: (dir) => changeFiles(dir, 'tree'),
  };
}

// ---------------------------------------------------------------- db

const FIRST = ['ada', 'alan', 'grace', 'linus', 'margaret', 'dennis', 'ken', 'barbara', 'edsger', 'donald', 'frances', 'john', 'radia', 'tim', 'sophie', 'guido', 'bjarne', 'anders', 'yukihiro', 'rasmus'];
const LAST = ['lovelace', 'turing', 'hopper', 'torvalds', 'hamilton', 'ritchie', 'thompson', 'liskov', 'dijkstra', 'knuth', 'allen', 'mccarthy', 'perlman', 'berners-lee', 'wilson', 'van rossum', 'stroustrup', 'hejlsberg', 'matsumoto', 'lerdorf'];
const CITIES = ['Lisbon', 'Oslo', 'Nairobi', 'Lima', 'Osaka', 'Toronto', 'Tallinn', 'Cairo', 'Perth', 'Quito', 'Hanoi', 'Dakar', 'Bergen', 'Austin', 'Porto'];
const STATUS = ['new', 'paid', 'packed', 'shipped', 'delivered', 'returned', 'cancelled'];
const SKUS = Array.from({ length: 500 }, (_, i) => `SKU-${(i * 7919).toString(36).toUpperCase().padStart(5, '0')}`);

function isoTime(rng, base = Date.UTC(2023, 0, 1)) {
  return new Date(base + rng.int(3 * 365 * 86400) * 1000).toISOString();
}

function orderRow(rng, id, customers) {
  const items = [];
  const n = rng.range(1, 5);
  for (let i = 0; i < n; i++) items.push({ sku: rng.pick(SKUS), qty: rng.range(1, 9), price: rng.range(199, 99999) });
  return {
    id,
    customer_id: rng.range(1, customers),
    created_at: isoTime(rng),
    status: rng.pick(STATUS),
    total_cents: items.reduce((s, it) => s + it.qty * it.price, 0),
    items: JSON.stringify(items),
    note: words(rng, rng.range(60, 250)),
  };
}

async function dbDataset(scale) {
  const target = Math.round(512 * MiB * scale);
  return {
    name: 'db',
    description: `SQLite database of ${Math.round(target / MiB)} MiB (customers; orders of ~1 KiB with JSON items and a note; two indexes; 4 KiB pages, rollback journal); change: 1% of orders and customers updated at random, 0.2% orders appended`,
    file: 'app.db',
    async generate(dir) {
      const { default: Database } = await import('better-sqlite3');
      fs.mkdirSync(dir, { recursive: true });
      const db = new Database(path.join(dir, 'app.db'));
      db.pragma('journal_mode = DELETE');
      db.pragma('page_size = 4096');
      db.exec(`
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, city TEXT, created_at TEXT, balance_cents INTEGER);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, created_at TEXT NOT NULL, status TEXT NOT NULL,
                             total_cents INTEGER NOT NULL, items TEXT NOT NULL, note TEXT);
        CREATE INDEX orders_customer ON orders(customer_id);
        CREATE INDEX customers_email ON customers(email);`);
      const rng = new Rng('db');
      const customers = Math.max(1000, Math.round(200_000 * scale));
      const insC = db.prepare('INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)');
      db.transaction(() => {
        for (let i = 1; i <= customers; i++) {
          const first = rng.pick(FIRST);
          const last = rng.pick(LAST);
          insC.run(i, `${first} ${last}`, `${first}.${last.replace(/ /g, '')}${i}@example.org`, rng.pick(CITIES), isoTime(rng), rng.range(-5000, 500000));
        }
      })();
      const insO = db.prepare('INSERT INTO orders VALUES (@id, @customer_id, @created_at, @status, @total_cents, @items, @note)');
      const pageSize = db.pragma('page_size', { simple: true });
      let id = 0;
      while (db.pragma('page_count', { simple: true }) * pageSize < target) {
        db.transaction(() => {
          for (let i = 0; i < 2_000; i++) insO.run(orderRow(rng, ++id, customers));
        })();
      }
      db.close();
      fs.writeFileSync(path.join(dir, 'meta.json'), `${JSON.stringify({ orders: id, customers })}\n`);
    },
    async change(dir) {
      const { default: Database } = await import('better-sqlite3');
      const { orders, customers } = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
      const rng = new Rng('db:change');
      const db = new Database(path.join(dir, 'app.db'));
      db.pragma('journal_mode = DELETE');
      const nUpdate = Math.round(orders * 0.01);
      const nAppend = Math.round(orders * 0.002);
      const upd = db.prepare('UPDATE orders SET status = ?, total_cents = total_cents + ?, note = ? WHERE id = ?');
      const updC = db.prepare('UPDATE customers SET balance_cents = balance_cents + ? WHERE id = ?');
      const insO = db.prepare('INSERT INTO orders VALUES (@id, @customer_id, @created_at, @status, @total_cents, @items, @note)');
      db.transaction(() => {
        for (const i of rng.sample(orders, nUpdate)) upd.run(rng.pick(STATUS), rng.range(-500, 500), words(rng, rng.range(60, 250)), i + 1);
        for (const i of rng.sample(customers, Math.round(customers * 0.01))) updC.run(rng.range(-1000, 1000), i + 1);
        for (let i = 1; i <= nAppend; i++) insO.run(orderRow(rng, orders + i, customers));
      })();
      db.close();
      return { updatedRows: nUpdate, updatedCustomers: Math.round(customers * 0.01), appendedRows: nAppend };
    },
  };
}

// ---------------------------------------------------------------- big-edit

const SEGMENT = MiB;

function bigEditDataset(scale) {
  const size = Math.round(1024 * MiB * scale);
  const inserts = [0.23, 0.51, 0.87].map((f, i) => ({ at: Math.floor(size * f) + 1237 * (i + 1), bytes: 64 + 97 * i }));
  return {
    name: 'big-edit',
    description: `one ${Math.round(size / MiB)} MiB file: 1 MiB segments of random (45%), English-like text (40%) and repetitive log lines (15%)`,
    file: 'big.bin',
    generate(dir) {
      fs.mkdirSync(dir, { recursive: true });
      const rng = new Rng('big-edit');
      const random = randomStream('big-edit');
      const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
      const buf = Buffer.alloc(SEGMENT);
      try {
        for (let off = 0; off < size; off += SEGMENT) {
          const n = Math.min(SEGMENT, size - off);
          const r = rng.float();
          let seg;
          if (r < 0.45) seg = random(n);
          else if (r < 0.85) seg = fillText(rng, buf.subarray(0, n));
          else {
            const b = buf.subarray(0, n);
            let i = 0;
            let seq = off;
            while (i < n) i += b.write(`2025-01-01T00:00:${String(seq++ % 60).padStart(2, '0')}Z INFO request ok id=${seq}\n`, i);
            seg = b;
          }
          fs.writeSync(fd, seg, 0, n);
        }
      } finally {
        fs.closeSync(fd);
      }
    },
    change(dir) {
      // Three small inserts at different offsets: everything after each one shifts.
      const file = path.join(dir, 'big.bin');
      const tmp = `${file}.tmp`;
      const rng = new Rng('big-edit:change');
      const inFd = fs.openSync(file, 'r');
      const outFd = fs.openSync(tmp, 'w');
      const buf = Buffer.alloc(4 * MiB);
      let pos = 0;
      const copyUntil = (end) => {
        while (pos < end) {
          const n = fs.readSync(inFd, buf, 0, Math.min(buf.length, end - pos), pos);
          if (n === 0) break;
          fs.writeSync(outFd, buf, 0, n);
          pos += n;
        }
      };
      for (const ins of inserts) {
        copyUntil(ins.at);
        fs.writeSync(outFd, fillText(rng, Buffer.alloc(ins.bytes)));
      }
      copyUntil(size);
      fs.closeSync(inFd);
      fs.closeSync(outFd);
      fs.renameSync(tmp, file);
      return { inserts };
    },
  };
}

// ---------------------------------------------------------------- many-small

function manySmallDataset(count, scale) {
  const n = Math.max(300, Math.round(count * scale));
  return {
    name: `many-small-${count / 1000}k`,
    group: 'many-small',
    points: count,
    description: `${n} small files (60 B – 6 KiB, 90% text, 10% random) in three levels of folders, ~100 files per folder`,
    generate(dir) {
      const rng = new Rng(`many-small:${count}`);
      const random = randomStream(`many-small:${count}`);
      const leaves = Math.max(1, Math.round(n / 100));
      const perLeaf = Math.ceil(n / leaves);
      const fan2 = Math.max(1, Math.ceil(Math.sqrt(leaves / 2)));
      let made = 0;
      for (let leaf = 0; leaf < leaves && made < n; leaf++) {
        const a = Math.floor(leaf / (fan2 * 2));
        const b = leaf % (fan2 * 2);
        const d = path.join(dir, `pkg${String(a).padStart(3, '0')}`, `mod${String(b).padStart(3, '0')}`, 'src');
        fs.mkdirSync(d, { recursive: true });
        for (let i = 0; i < perLeaf && made < n; i++, made++) {
          const size = Math.min(6144, Math.max(60, Math.round(Math.exp(4 + rng.float() * 4.5))));
          const body = rng.int(10) === 0 ? random(size) : fillText(rng, Buffer.alloc(size));
          fs.writeFileSync(path.join(d, `file${String(i).padStart(4, '0')}.${rng.int(10) === 0 ? 'bin' : 'txt'}`), body);
        }
      }
    },
    change: (dir) => changeFiles(dir, `many-small:${count}`),
  };
}

export const DATASET_NAMES = ['tree', 'db', 'big-edit', 'many-small-50k', 'many-small-100k', 'many-small-200k'];

/** Expands a selection: `many-small` means all three points. */
export function selectDatasets(list) {
  const out = [];
  for (const name of list) {
    if (name === 'many-small') out.push('many-small-50k', 'many-small-100k', 'many-small-200k');
    else if (DATASET_NAMES.includes(name)) out.push(name);
    else throw new Error(`unknown dataset "${name}" (choose from ${DATASET_NAMES.join(', ')}, many-small)`);
  }
  return [...new Set(out)];
}

export async function makeDataset(name, scale) {
  if (name === 'tree') return treeDataset(scale);
  if (name === 'db') return dbDataset(scale);
  if (name === 'big-edit') return bigEditDataset(scale);
  const m = /^many-small-(\d+)k$/.exec(name);
  if (m) return manySmallDataset(Number(m[1]) * 1000, scale);
  throw new Error(`unknown dataset ${name}`);
}
