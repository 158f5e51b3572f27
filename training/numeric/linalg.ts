/**
 * Dense row-major vector helpers shared by the clustering code.
 *
 * A matrix is a `Float32Array` of `n * dim` values, row `i` at `[i * dim, (i + 1) * dim)`. All similarity code
 * works on L2-normalised rows, so cosine similarity is a plain dot product.
 */

/** Rows whose squared norm is within this of 1 count as unit length. */
const UNIT_TOLERANCE = 1e-3;

/** Throws a RangeError unless `data` holds exactly `n * dim` values and both are sensible. */
export function checkMatrix(data: Float32Array, n: number, dim: number, what = 'vectors'): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${what}: dim must be a positive integer, got ${dim}`);
  if (data.length !== n * dim) {
    throw new RangeError(`${what}: expected ${n} x ${dim} = ${n * dim} values, got ${data.length}`);
  }
}

/** Dot product of row `a` of `x` (offset `ao`) and row `b` of `y` (offset `bo`), both `dim` long. */
export function dot(x: Float32Array, ao: number, y: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let d = 0;
  for (; d + 2 <= dim; d += 2) {
    s0 += x[ao + d] * y[bo + d];
    s1 += x[ao + d + 1] * y[bo + d + 1];
  }
  if (d < dim) s0 += x[ao + d] * y[bo + d];
  return s0 + s1;
}

/** Normalises every row of `data` to unit L2 norm in place; all-zero rows stay zero. Returns `data`. */
export function normalizeRows(data: Float32Array, n: number, dim: number): Float32Array {
  for (let i = 0; i < n; i++) normalizeRow(data, i * dim, dim);
  return data;
}

/** Normalises the `dim` values at `offset` in place; returns the norm they had. */
export function normalizeRow(data: Float32Array, offset: number, dim: number): number {
  let ss = 0;
  for (let d = 0; d < dim; d++) ss += data[offset + d] * data[offset + d];
  const norm = Math.sqrt(ss);
  if (norm > 0) {
    const inv = 1 / norm;
    for (let d = 0; d < dim; d++) data[offset + d] *= inv;
  }
  return norm;
}

/**
 * Returns `data` itself when every row is (approximately) unit length or zero, otherwise a normalised copy.
 * The input is never modified. Cost: one pass over the data.
 */
export function unitRows(data: Float32Array, n: number, dim: number): Float32Array {
  for (let i = 0; i < n; i++) {
    let ss = 0;
    const o = i * dim;
    for (let d = 0; d < dim; d++) ss += data[o + d] * data[o + d];
    if (ss !== 0 && Math.abs(ss - 1) > UNIT_TOLERANCE) return normalizeRows(data.slice(), n, dim);
  }
  return data;
}

/**
 * Unit rows of `x - mean(x)` (rows taken at unit length first): removes the component every photo of the collection
 * shares (with ReLU features, typical cosine between unrelated photos is 0.5 or more), so cosine geometry reflects
 * what tells this library's photos apart. The mean is returned too, to map further vectors into the same space.
 * It lifts k-means on the default encoder's features (docs/results.md, "Clustering quality").
 */
export function centerRows(data: Float32Array, n: number, dim: number): { x: Float32Array; mean: Float32Array } {
  const u = unitRows(data, n, dim);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += u[i * dim + d];
  const mu = new Float32Array(dim);
  for (let d = 0; d < dim; d++) mu[d] = n > 0 ? mean[d] / n : 0;
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    for (let d = 0; d < dim; d++) x[o + d] = u[o + d] - mu[d];
    normalizeRow(x, o, dim);
  }
  return { x, mean: mu };
}

/** Copies rows `indices` of `data` into a new compact matrix. */
export function gatherRows(data: Float32Array, dim: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let r = 0; r < indices.length; r++) {
    const src = indices[r] * dim;
    const dst = r * dim;
    for (let d = 0; d < dim; d++) out[dst + d] = data[src + d];
  }
  return out;
}

/**
 * Block of dot products: `out[i * ldOut + j] = <a row (aStart + i), b row (bStart + j)>` for `i < aCount`,
 * `j < bCount`.
 *
 * This is the hot loop of k-means, kNN and duplicate search. It is register-blocked 4 x 4 (four rows of `a` against
 * four rows of `b`, sixteen accumulators), so every value loaded from memory feeds four multiply-adds; callers keep
 * `bCount * dim` small enough (a few hundred KiB) that the `b` rows stay in cache across the `a` rows.
 * Cost: `aCount * bCount * dim` multiply-adds.
 */
export function dotBlock(
  a: Float32Array,
  aStart: number,
  aCount: number,
  b: Float32Array,
  bStart: number,
  bCount: number,
  dim: number,
  out: Float32Array,
  ldOut: number,
): void {
  const aEnd4 = aCount - (aCount % 4);
  const bEnd4 = bCount - (bCount % 4);
  for (let i = 0; i < aEnd4; i += 4) {
    const x0 = (aStart + i) * dim;
    const x1 = x0 + dim;
    const x2 = x1 + dim;
    const x3 = x2 + dim;
    const o0 = i * ldOut;
    for (let j = 0; j < bEnd4; j += 4) {
      const y0 = (bStart + j) * dim;
      const y1 = y0 + dim;
      const y2 = y1 + dim;
      const y3 = y2 + dim;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let d = 0; d < dim; d++) {
        const q0 = b[y0 + d];
        const q1 = b[y1 + d];
        const q2 = b[y2 + d];
        const q3 = b[y3 + d];
        let p = a[x0 + d];
        s00 += p * q0; s01 += p * q1; s02 += p * q2; s03 += p * q3;
        p = a[x1 + d];
        s10 += p * q0; s11 += p * q1; s12 += p * q2; s13 += p * q3;
        p = a[x2 + d];
        s20 += p * q0; s21 += p * q1; s22 += p * q2; s23 += p * q3;
        p = a[x3 + d];
        s30 += p * q0; s31 += p * q1; s32 += p * q2; s33 += p * q3;
      }
      let o = o0 + j;
      out[o] = s00; out[o + 1] = s01; out[o + 2] = s02; out[o + 3] = s03;
      o += ldOut;
      out[o] = s10; out[o + 1] = s11; out[o + 2] = s12; out[o + 3] = s13;
      o += ldOut;
      out[o] = s20; out[o + 1] = s21; out[o + 2] = s22; out[o + 3] = s23;
      o += ldOut;
      out[o] = s30; out[o + 1] = s31; out[o + 2] = s32; out[o + 3] = s33;
    }
    for (let j = bEnd4; j < bCount; j++) {
      const y = (bStart + j) * dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let d = 0; d < dim; d++) {
        const q = b[y + d];
        s0 += a[x0 + d] * q;
        s1 += a[x1 + d] * q;
        s2 += a[x2 + d] * q;
        s3 += a[x3 + d] * q;
      }
      const o = o0 + j;
      out[o] = s0;
      out[o + ldOut] = s1;
      out[o + 2 * ldOut] = s2;
      out[o + 3 * ldOut] = s3;
    }
  }
  for (let i = aEnd4; i < aCount; i++) {
    const x = (aStart + i) * dim;
    const o0 = i * ldOut;
    for (let j = 0; j < bCount; j++) out[o0 + j] = dot(a, x, b, (bStart + j) * dim, dim);
  }
}
