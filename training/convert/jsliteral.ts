/**
 * A parser for the data literals that minified JavaScript bundles embed (e.g. `module.exports={a:1,b:!0}`), so
 * bundled model files can be read without executing any of their code.
 *
 * Accepted grammar: JSON plus the forms minifiers emit for data: unquoted identifier keys, single-quoted strings,
 * numbers like `.5`, `-.5`, `5.`, `0x1f`, `!0` / `!1` for true / false, `void 0` for undefined, and trailing commas.
 * Anything else (calls, references, operators) is rejected with the offset where it was found.
 */

export type JsValue = null | undefined | boolean | number | string | JsValue[] | { [key: string]: JsValue };

export class JsLiteralError extends Error {
  constructor(
    public readonly offset: number,
    message: string,
  ) {
    super(`JS literal at offset ${offset}: ${message}`);
    this.name = 'JsLiteralError';
  }
}

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[A-Za-z0-9_$]/;
const NUMBER = /^[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/;

class Parser {
  pos: number;

  constructor(
    private readonly src: string,
    start: number,
  ) {
    this.pos = start;
  }

  fail(message: string): never {
    throw new JsLiteralError(this.pos, message);
  }

  skipSpace(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t') this.pos++;
      else if (s.startsWith('//', this.pos)) {
        const end = s.indexOf('\n', this.pos);
        this.pos = end < 0 ? s.length : end + 1;
      } else if (s.startsWith('/*', this.pos)) {
        const end = s.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('unterminated comment');
        this.pos = end + 2;
      } else break;
    }
  }

  value(): JsValue {
    this.skipSpace();
    const s = this.src;
    const c = s[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"' || c === "'") return this.string();
    if (c === '!') {
      const d = s[this.pos + 1];
      if (d === '0' || d === '1') {
        this.pos += 2;
        return d === '0';
      }
      this.fail('only !0 and !1 are allowed');
    }
    const num = NUMBER.exec(s.slice(this.pos, this.pos + 40));
    if (num) {
      this.pos += num[0].length;
      const sign = num[0].startsWith('-') ? -1 : 1;
      const body = num[0].replace(/^[-+]/, '');
      return sign * (/^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : Number(body));
    }
    const word = this.identifier();
    switch (word) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      case 'Infinity':
        return Infinity;
      case 'NaN':
        return NaN;
      case 'void':
        this.skipSpace();
        if (s[this.pos] !== '0') this.fail('only `void 0` is allowed');
        this.pos++;
        return undefined;
      default:
        this.pos -= word.length;
        return this.fail(`unexpected ${JSON.stringify(word || s[this.pos] || 'end of input')}`);
    }
  }

  identifier(): string {
    const s = this.src;
    const start = this.pos;
    if (this.pos < s.length && IDENT_START.test(s[this.pos])) {
      this.pos++;
      while (this.pos < s.length && IDENT_PART.test(s[this.pos])) this.pos++;
    }
    return s.slice(start, this.pos);
  }

  string(): string {
    const s = this.src;
    const start = this.pos;
    const quote = s[this.pos++];
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      if (this.pos >= s.length) throw new JsLiteralError(start, 'unterminated string');
      const c = s[this.pos];
      if (c === quote) {
        out += s.slice(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c === '\n') throw new JsLiteralError(start, 'newline in string');
      if (c !== '\\') {
        this.pos++;
        continue;
      }
      out += s.slice(chunkStart, this.pos);
      const e = s[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '0':
          out += '\0';
          break;
        case 'x':
          out += String.fromCharCode(this.hex(2));
          break;
        case 'u':
          if (s[this.pos] === '{') {
            const end = s.indexOf('}', this.pos);
            if (end < 0) this.fail('bad \\u{} escape');
            out += String.fromCodePoint(parseInt(s.slice(this.pos + 1, end), 16));
            this.pos = end + 1;
          } else out += String.fromCharCode(this.hex(4));
          break;
        case '\n':
          break;
        default:
          out += e;
      }
      chunkStart = this.pos;
    }
  }

  hex(n: number): number {
    const h = this.src.slice(this.pos, this.pos + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) this.fail('bad hex escape');
    this.pos += n;
    return parseInt(h, 16);
  }

  key(): string {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c === '"' || c === "'") return this.string();
    const num = /^\d+/.exec(this.src.slice(this.pos, this.pos + 20));
    if (num) {
      this.pos += num[0].length;
      return String(Number(num[0]));
    }
    const id = this.identifier();
    if (!id) this.fail('expected a property key');
    return id;
  }

  object(): { [key: string]: JsValue } {
    this.pos++; // {
    const out: { [key: string]: JsValue } = {};
    for (;;) {
      this.skipSpace();
      if (this.src[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const k = this.key();
      this.skipSpace();
      if (this.src[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      // defineProperty (as JSON.parse does) keeps keys such as "__proto__" plain data.
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const c = this.src[this.pos];
      if (c === ',') this.pos++;
      else if (c !== '}') this.fail('expected "," or "}"');
    }
  }

  array(): JsValue[] {
    this.pos++; // [
    const out: JsValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.src[this.pos] === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.skipSpace();
      const c = this.src[this.pos];
      if (c === ',') this.pos++;
      else if (c !== ']') this.fail('expected "," or "]"');
    }
  }
}

/**
 * Parse the data literal that starts at `start` in `src`.
 * Returns the value and the offset just past it; trailing text is left to the caller.
 */
export function parseJsLiteral(src: string, start = 0): { value: JsValue; end: number } {
  const p = new Parser(src, start);
  const value = p.value();
  return { value, end: p.pos };
}

/**
 * Extract the value a browserify-style bundle assigns to the exports of its first module
 * (`{1:[function(require,module,exports){module.exports=<literal>},{}]}`), without running the bundle.
 */
export function extractBundledExport(src: string): JsValue {
  const m = /\{1:\[function\(\s*[\w$]*\s*,\s*([\w$]+)\s*(?:,\s*[\w$]*\s*)*\)\s*\{\s*/.exec(src);
  if (!m) throw new JsLiteralError(0, 'no browserify module 1 found');
  const assign = `${m[1]}.exports=`;
  const at = m.index + m[0].length;
  if (!src.startsWith(assign, at)) throw new JsLiteralError(at, `expected "${assign}"`);
  const { value, end } = parseJsLiteral(src, at + assign.length);
  // The module function must end right after the assignment.
  if (!/^\s*;?\s*\}/.test(src.slice(end, end + 64))) throw new JsLiteralError(end, 'literal is followed by more code');
  return value;
}
