/**
 * The shape of the house, checked: every import of every src/**\/*.ts (static `import`, `export …
 * from`, `import()` with a string literal, type-only imports too) is read, and the test fails with
 * the files named when
 *  (a) imports form a cycle;
 *  (b) a module of src/lib imports a higher layer, or a sibling folder of its own layer, in the
 *      order platform < points < {delivery, schedule} < events < run < {sdk, systemd, kubernetes,
 *      grafana} < cli
 *      (a module may import its own folder and the layers below);
 *  (c) a collector (src/collectors/**) imports anything of src/lib but the SDK's entries
 *      (sdk/index.js, and sdk/events.js for the event API);
 *  (d) src/lib imports src/collectors (discovery finds the collectors);
 *  (e) a folder of src/lib is not in the table below, or its main file does not open with the
 *      folder's paragraph (`/** <folder>/: …`).
 * The checker is plain code over a map of file contents, so that it is tested on synthetic input
 * too (a collector importing lib/points/point.js must fail).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The folders of src/lib: layer (a module may import its own folder and lower layers) and main file. */
export const LAYERS: Record<string, { layer: number; main: string }> = {
  platform: { layer: 0, main: 'errors.ts' },
  points: { layer: 1, main: 'point.ts' },
  delivery: { layer: 2, main: 'delivery.ts' },
  schedule: { layer: 2, main: 'schedule.ts' },
  events: { layer: 3, main: 'event.ts' },
  run: { layer: 4, main: 'runner.ts' },
  sdk: { layer: 5, main: 'index.ts' },
  systemd: { layer: 5, main: 'units.ts' },
  kubernetes: { layer: 5, main: 'manifests.ts' },
  grafana: { layer: 5, main: 'dashboard.ts' },
  cli: { layer: 6, main: 'main.ts' },
};

/** What a collector may import from src/lib. */
export const SDK_ENTRIES = ['src/lib/sdk/index.ts', 'src/lib/sdk/events.ts'];

export interface Import {
  specifier: string;
  /** 1-based line where the import statement (or `import(`) starts */
  line: number;
}

const KEYWORDS_BEFORE_REGEX = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

/**
 * The source with comments blanked, template literals blanked, and every '…' / "…" string
 * replaced by a placeholder `'#<n>'` (its text in `strings[n]`); regular expression literals are
 * skipped. Line breaks are kept, so that positions give line numbers.
 */
export function blankSource(source: string): { code: string; strings: string[] } {
  const strings: string[] = [];
  let out = '';
  let i = 0;
  const n = source.length;
  const blank = (text: string) => text.replace(/[^\n]/g, ' ');
  /** the last significant code character and word, to tell a regex literal from a division */
  const regexAllowed = (): boolean => {
    const m = /([A-Za-z_$][\w$]*|\S)\s*$/.exec(out);
    if (!m) return true;
    const last = m[1]!;
    if (/^[A-Za-z_$]/.test(last)) return KEYWORDS_BEFORE_REGEX.has(last);
    return !/[\w$)\]'"`]/.test(last);
  };
  const skipTemplate = (): void => {
    // at the opening backtick; blanks up to the closing one, expressions included
    const start = i;
    i++;
    while (i < n && source[i] !== '`') {
      if (source[i] === '\\') i += 2;
      else if (source[i] === '$' && source[i + 1] === '{') {
        i += 2;
        let depth = 1;
        while (i < n && depth > 0) {
          const c = source[i]!;
          if (c === '{') depth++;
          else if (c === '}') depth--;
          else if (c === '`') {
            skipTemplate();
            continue;
          } else if (c === "'" || c === '"') {
            const q = c;
            i++;
            while (i < n && source[i] !== q) i += source[i] === '\\' ? 2 : 1;
          }
          i++;
        }
      } else i++;
    }
    i++;
    out += blank(source.slice(start, i));
  };
  while (i < n) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += blank(source.slice(i, stop));
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let text = '';
      while (j < n && source[j] !== c && source[j] !== '\n') {
        if (source[j] === '\\') {
          text += source[j + 1] ?? '';
          j += 2;
        } else text += source[j++];
      }
      strings.push(text);
      const token = `'#${strings.length - 1}'`;
      const end = source[j] === c ? j + 1 : j; // an unterminated string ends at its line
      out += token + blank(source.slice(i, end)).slice(token.length);
      i = end;
    } else if (c === '`') {
      skipTemplate();
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < n && source[j] !== '\n') {
        const d = source[j]!;
        if (d === '\\') j += 2;
        else {
          if (d === '[') inClass = true;
          else if (d === ']') inClass = false;
          else if (d === '/' && !inClass) break;
          j++;
        }
      }
      j++;
      while (j < n && /[a-z]/i.test(source[j]!)) j++;
      out += blank(source.slice(i, j));
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return { code: out, strings };
}

/** Every import of a TypeScript source: static, `export … from`, `import()` with a literal; type-only ones too. */
export function parseImports(source: string): Import[] {
  const { code, strings } = blankSource(source);
  const found: Import[] = [];
  const add = (index: number, id: string) => {
    found.push({ specifier: strings[Number(id)]!, line: code.slice(0, index).split('\n').length });
  };
  const patterns = [
    // import x from '…', import { a, type B } from '…', import type { … } from '…', import * as x from '…'
    /\bimport\s+(?:type\s+)?[\w$*{][^;'"]*?\bfrom\s*'#(\d+)'/g,
    // import '…' (for its effects)
    /\bimport\s*'#(\d+)'/g,
    // export { … } from '…', export type { … } from '…', export * from '…', export * as x from '…'
    /\bexport\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*'#(\d+)'/g,
    // import('…'), in code or in a type position
    /\bimport\s*\(\s*'#(\d+)'\s*[,)]/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) add(m.index!, m[1]!);
  return found.sort((a, b) => a.line - b.line);
}

/** Where a relative specifier of `from` points (a repository path of a .ts file), or undefined for a package or built-in. */
export function resolveSpecifier(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

/** `lib:<folder>`, `collectors`, `lib` (a file directly in src/lib), or `other`. */
function partOf(path: string): { kind: 'lib'; folder: string } | { kind: 'lib-root' } | { kind: 'collectors' } | { kind: 'other' } {
  const m = /^src\/lib\/([^/]+)\/.+$/.exec(path);
  if (m) return { kind: 'lib', folder: m[1]! };
  if (/^src\/lib\/[^/]+$/.test(path)) return { kind: 'lib-root' };
  if (path.startsWith('src/collectors/')) return { kind: 'collectors' };
  return { kind: 'other' };
}

/** The import cycles among `graph`'s files (Tarjan's strongly connected components), each as a closed path. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(cyclePath(graph, new Set(component)));
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) connect(v);
  return cycles;
}

/** One closed path through a strongly connected component: a → b → … → a. */
function cyclePath(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0]!;
  // breadth-first from start back to start, inside the component
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of (graph.get(v) ?? []).filter((x) => component.has(x)).sort()) {
      if (w === start) {
        const path = [start];
        for (let x: string | undefined = v; x !== undefined && x !== start; x = previous.get(x)) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Every rule broken by these files (repository path → content), one message each. */
export function checkArchitecture(files: Map<string, string>): string[] {
  const problems: string[] = [];
  const graph = new Map<string, string[]>();
  for (const [from, source] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const fromPart = partOf(from);
    if (fromPart.kind === 'lib-root')
      problems.push(`${from} sits directly in src/lib: put it in the folder of its part (see README "Layout")`);
    if (fromPart.kind === 'lib' && !LAYERS[fromPart.folder]) {
      problems.push(
        `${from}: src/lib/${fromPart.folder}/ is not a known part: ` +
          'add it to LAYERS in test/lib/architecture.test.ts and to README "Layout"',
      );
    }
    const edges: string[] = [];
    for (const imp of parseImports(source)) {
      const to = resolveSpecifier(from, imp.specifier);
      if (to === undefined) continue;
      const where = `${from}:${imp.line} imports ${imp.specifier}`;
      if (!files.has(to)) {
        problems.push(`${where}: no such module (${to})`);
        continue;
      }
      edges.push(to);
      const toPart = partOf(to);
      if (fromPart.kind === 'collectors' && (toPart.kind === 'lib' || toPart.kind === 'lib-root') && !SDK_ENTRIES.includes(to)) {
        problems.push(
          `${where}: a collector imports from src/lib only the SDK ` +
            `(${SDK_ENTRIES.map((e) => e.replace(/\.ts$/, '.js')).join(' or ')}); export what it needs there`,
        );
      }
      if ((fromPart.kind === 'lib' || fromPart.kind === 'lib-root') && toPart.kind === 'collectors') {
        problems.push(`${where}: src/lib never imports a collector (discovery finds them)`);
      }
      if (fromPart.kind === 'lib' && toPart.kind === 'lib' && fromPart.folder !== toPart.folder) {
        const a = LAYERS[fromPart.folder];
        const b = LAYERS[toPart.folder];
        if (a && b && b.layer > a.layer) {
          problems.push(
            `${where}: ${fromPart.folder}/ (layer ${a.layer}) imports ${toPart.folder}/ (layer ${b.layer}), a higher layer: move the ` +
              `shared piece down, or pass it in`,
          );
        } else if (a && b && b.layer === a.layer) {
          problems.push(
            `${where}: ${fromPart.folder}/ and ${toPart.folder}/ share layer ${a.layer} and stay independent of each other: move the ` +
              `shared piece down`,
          );
        }
      }
    }
    graph.set(from, [...new Set(edges)]);
  }
  for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cycle.join(' -> ')}`);
  for (const [folder, { main }] of Object.entries(LAYERS)) {
    const path = `src/lib/${folder}/${main}`;
    const source = files.get(path);
    if (source === undefined) {
      if ([...files.keys()].some((f) => f.startsWith(`src/lib/${folder}/`)))
        problems.push(`${path}, the main file of ${folder}/, is missing (LAYERS names it)`);
      continue;
    }
    if (!new RegExp(`^/\\*\\*\\s*\\n\\s*\\* ${folder}/: `).test(source)) {
      problems.push(
        `${path}, the main file of ${folder}/, must open with the folder's paragraph: "/**\\n * ${folder}/: what it is for and what ` +
          `it may import"`,
      );
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The real tree

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sourceFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files.set(relative(repo, path).split('\\').join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(join(repo, 'src'));
  return files;
}

test('src/: no import cycle, no import up a layer, collectors import only the SDK, src/lib imports no collector', () => {
  const files = sourceFiles();
  assert.ok(files.size > 40, `read only ${files.size} files from ${join(repo, 'src')}`);
  assert.ok(files.has('src/lib/sdk/index.ts'));
  const problems = checkArchitecture(files);
  assert.deepEqual(problems, [], `the architecture rules are broken (see README "Layout"):\n  ${problems.join('\n  ')}`);
});

/** Where the environment may be read: the settings loader, and the entry point that hands it the environment. */
export const ENVIRONMENT_READERS = ['src/lib/platform/settings.ts', 'src/lib/cli/main.ts'];

test('src/: the environment is read at the edge only (process.env in platform/settings.ts and cli/main.ts)', () => {
  const readers = [...sourceFiles()].filter(([, source]) => source.includes('process.env')).map(([path]) => path);
  assert.deepEqual(
    readers.filter((p) => !ENVIRONMENT_READERS.includes(p)),
    [],
    'these modules read process.env: take the settings (platform/settings.ts) from the caller instead',
  );
});

// ---------------------------------------------------------------------------------------------
// The checker, on synthetic input

const MAINS = Object.fromEntries(
  Object.entries(LAYERS).map(([folder, { main }]) => [`src/lib/${folder}/${main}`, `/**\n * ${folder}/: a folder.\n */\n`]),
);

function tree(extra: Record<string, string>): Map<string, string> {
  return new Map(Object.entries({ ...MAINS, ...extra }));
}

test('checker: finds every kind of import, type-only ones included, and none in comments or strings', () => {
  const source = [
    "import a from './a.js';",
    "import type { B } from './b.js';",
    'import {',
    '  c,',
    '  type D,',
    "} from './c.js';",
    "import * as e from './e.js';",
    "import './f.js';",
    "export { g } from './g.js';",
    "export type { H } from './h.js';",
    "export * from './i.js';",
    "const j = await import('./j.js');",
    "type K = import('./k.js').K;",
    "// import x from './comment.js';",
    "/* export { y } from './block.js'; */",
    'const s = "import z from \'./string.js\'";',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source with a template literal, for the import checker to read
    "const t = `import w from './template.js'; ${\"import('./in-expression.js')\"}`;",
    "const r = /import v from '.\\/regex.js'/;",
    "const q = a / 2; import('./l.js');",
    "import { readFile } from 'node:fs/promises';",
  ].join('\n');
  assert.deepEqual(
    parseImports(source).map((i) => `${i.line}:${i.specifier}`),
    [
      '1:./a.js',
      '2:./b.js',
      '3:./c.js',
      '7:./e.js',
      '8:./f.js',
      '9:./g.js',
      '10:./h.js',
      '11:./i.js',
      '12:./j.js',
      '13:./k.js',
      '19:./l.js',
      '20:node:fs/promises',
    ],
  );
});

test('checker: a collector importing lib/points/point.js (or anything but the SDK) fails', () => {
  const problems = checkArchitecture(
    tree({
      'src/lib/points/other.ts': 'export const x = 1;\n',
      'src/lib/sdk/index.ts': "/**\n * sdk/: the SDK.\n */\nexport { x } from '../points/other.js';\n",
      'src/lib/sdk/events.ts': 'export {};\n',
      'src/collectors/weather/index.ts':
        "import type { x } from '../../lib/sdk/index.js';\nimport { int } from '../../lib/points/point.js';\nimport { helper } from " +
        "'./helper.js';\n",
      'src/collectors/weather/helper.ts': "import { defineEvent } from '../../lib/sdk/events.js';\nexport const helper = 1;\n",
    }),
  );
  assert.deepEqual(problems, [
    'src/collectors/weather/index.ts:2 imports ../../lib/points/point.js: a collector imports from src/lib only the SDK ' +
      '(src/lib/sdk/index.js or src/lib/sdk/events.js); export what it needs there',
  ]);
});

test('checker: an import up a layer, between sibling folders, or of a collector fails; down is fine', () => {
  const problems = checkArchitecture(
    tree({
      'src/lib/schedule/low.ts': "import type { Runner } from '../run/runner.js';\nimport { x } from '../platform/errors.js';\n",
      'src/lib/delivery/sibling.ts': "import { y } from '../schedule/low.js';\n",
      'src/lib/run/discovery.ts': "const m = await import('../../collectors/system/index.js');\n",
      'src/collectors/system/index.ts': "import { Metric } from '../../lib/sdk/index.js';\n",
      'src/lib/cli/commands/run.ts': "import { run } from '../../run/runner.js';\nimport { z } from '../../sdk/index.js';\n",
    }),
  );
  assert.deepEqual(problems, [
    'src/lib/delivery/sibling.ts:1 imports ../schedule/low.js: delivery/ and schedule/ share layer 2 and stay independent of each ' +
      'other: move the shared piece down',
    'src/lib/run/discovery.ts:1 imports ../../collectors/system/index.js: src/lib never imports a collector (discovery finds them)',
    'src/lib/schedule/low.ts:1 imports ../run/runner.js: schedule/ (layer 2) imports run/ (layer 4), a higher layer: move the shared ' +
      'piece down, or pass it in',
  ]);
});

test('checker: a cycle is named with its files, type-only imports included', () => {
  const problems = checkArchitecture(
    tree({
      'src/lib/cli/yargs.ts': "import { reportError } from './main.js';\n",
      'src/lib/cli/main.ts': "/**\n * cli/: the CLI.\n */\nconst cli = await import('./yargs.js');\n",
      'src/lib/events/a.ts': "import type { B } from './b.js';\n",
      'src/lib/events/b.ts': "import { c } from './c.js';\n",
      'src/lib/events/c.ts': "export { a } from './a.js';\n",
    }),
  );
  assert.deepEqual(problems, [
    'import cycle: src/lib/cli/main.ts -> src/lib/cli/yargs.ts -> src/lib/cli/main.ts',
    'import cycle: src/lib/events/a.ts -> src/lib/events/b.ts -> src/lib/events/c.ts -> src/lib/events/a.ts',
  ]);
});

test('checker: a file outside the folders, an unknown folder, a missing import and a main file without its paragraph fail', () => {
  const problems = checkArchitecture(
    tree({
      'src/lib/flat.ts': 'export {};\n',
      'src/lib/misc/util.ts': "import { gone } from '../platform/gone.js';\n",
      'src/lib/points/point.ts': '// the point model\nexport {};\n',
    }),
  );
  assert.deepEqual(problems, [
    'src/lib/flat.ts sits directly in src/lib: put it in the folder of its part (see README "Layout")',
    'src/lib/misc/util.ts: src/lib/misc/ is not a known part: add it to LAYERS in test/lib/architecture.test.ts and to README "Layout"',
    'src/lib/misc/util.ts:1 imports ../platform/gone.js: no such module (src/lib/platform/gone.ts)',
    'src/lib/points/point.ts, the main file of points/, must open with the folder\'s paragraph: "/**\\n * points/: what it is for ' +
      'and what it may import"',
  ]);
});
