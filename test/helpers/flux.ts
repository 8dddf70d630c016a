/**
 * Flux's own parser and semantic checker (type inference against the signatures of the built-in
 * functions: an unknown function, a missing or misnamed argument, an undefined identifier are
 * errors), from InfluxData's Flux language server compiled to WebAssembly
 * (`@influxdata/flux-lsp-browser` 0.8.40, MIT, a dev dependency).
 *
 * The package is built for bundlers (its glue imports the .wasm file as a module, which Node 20
 * cannot), so it is loaded by hand: the glue is copied to a temporary .mjs whose `wasm` binding is
 * set after the module is instantiated with the glue's exports as its imports. The package
 * version is pinned; should its glue change shape, `loadFlux()` throws saying so.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface FluxChecker {
  /** whether Flux parses the script and its semantic check passes */
  isValid(script: string): boolean;
}

/** The part of the WebAssembly global used here (lib ES2023 and @types/node 20 do not declare it). */
interface WasmApi {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };

let loaded: Promise<FluxChecker> | undefined;

export function loadFlux(): Promise<FluxChecker> {
  loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('@influxdata/flux-lsp-browser/package.json'));
    let glue = readFileSync(join(dir, 'flux-lsp-browser_bg.js'), 'utf8');
    const importLine = /import \* as wasm from ['"]\.\/flux-lsp-browser_bg\.wasm['"];?/;
    const cacheLines =
      /\ncachedInt32Memory0 = new Int32Array\(wasm\.memory\.buffer\);\ncachedUint8Memory0 = new Uint8Array\(wasm\.memory\.buffer\);\s*$/;
    if (!importLine.test(glue) || !cacheLines.test(glue)) {
      throw new Error(
        `${dir}: the glue code of @influxdata/flux-lsp-browser is not the expected shape (version 0.8.40): update test/helpers/flux.ts`,
      );
    }
    glue = glue
      .replace(
        importLine,
        'let wasm; export function __setWasm(w) { wasm = w; cachedInt32Memory0 = new Int32Array(wasm.memory.buffer); ' +
          'cachedUint8Memory0 = new Uint8Array(wasm.memory.buffer); }',
      )
      .replace(cacheLines, '\n');
    const tmp = mkdtempSync(join(tmpdir(), 'flux-lsp-'));
    try {
      writeFileSync(join(tmp, 'glue.mjs'), glue);
      const bg = (await import(pathToFileURL(join(tmp, 'glue.mjs')).href)) as Record<string, unknown> & {
        __setWasm(exports: Record<string, unknown>): void;
        Flux: new (script: string) => { is_valid(): boolean; free(): void };
      };
      const { instance } = await wasmApi.instantiate(readFileSync(join(dir, 'flux-lsp-browser_bg.wasm')), {
        './flux-lsp-browser_bg.js': bg,
      });
      bg.__setWasm(instance.exports);
      return {
        isValid(script: string): boolean {
          const flux = new bg.Flux(script);
          try {
            return flux.is_valid();
          } finally {
            flux.free();
          }
        },
      };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  })();
  return loaded;
}
