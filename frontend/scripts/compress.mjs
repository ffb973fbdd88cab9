// Writes a brotli (.br) and a gzip (.gz) copy beside every text asset of
// dist/ at the highest quality, once at build time: the server sends the copy
// the browser accepts and never compresses these files per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const TEXT = /\.(js|css|html|svg|json|txt|map)$/;
function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (TEXT.test(name)) yield p;
  }
}
let n = 0;
for (const p of files(new URL('../dist', import.meta.url).pathname)) {
  const data = readFileSync(p);
  if (data.length < 1024) continue;
  writeFileSync(`${p}.br`, brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  }));
  writeFileSync(`${p}.gz`, gzipSync(data, { level: 9 }));
  n++;
}
console.log(`compressed ${n} assets (.br, .gz)`);
