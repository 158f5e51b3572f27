/** A static k-d tree over points in R^dim for exact nearest-neighbour queries (squared Euclidean distance). */

export interface Nearest {
  /** Index of the point in the array the tree was built from. */
  index: number;
  dist2: number;
}

// Ranges this small are scanned linearly instead of split further.
const LEAF = 8;

export class KdTree {
  readonly size: number;
  readonly dim: number;
  // Points in tree order: the node of range [lo, hi) is slot (lo + hi) >> 1, its left subtree [lo, mid), right (mid, hi).
  private readonly coords: Float64Array;
  private readonly ids: Int32Array;
  private readonly axes: Uint8Array;
  private q: ArrayLike<number> = [];
  private bestIndex = -1;
  private bestDist2 = Infinity;

  /** `points` is flat: point i is points[i * dim .. i * dim + dim). */
  constructor(points: ArrayLike<number>, dim: number) {
    if (!Number.isInteger(dim) || dim < 1 || dim > 255) throw new RangeError(`bad dimension ${dim}`);
    if (points.length % dim !== 0) throw new RangeError('points.length is not a multiple of dim');
    const n = points.length / dim;
    // Points are moved with their ids while the tree is built, so partitioning reads memory in order.
    const pts = Float64Array.from(points);
    for (let i = 0; i < pts.length; i++) if (!Number.isFinite(pts[i])) throw new RangeError(`non-finite coordinate at ${i}`);
    this.size = n;
    this.dim = dim;
    this.ids = new Int32Array(n);
    for (let i = 0; i < n; i++) this.ids[i] = i;
    this.axes = new Uint8Array(n);
    this.coords = pts;
    this.build(0, n);
  }

  /** The point nearest to `q` with squared distance below `maxDist2`, or null if there is none. */
  nearest(q: ArrayLike<number>, maxDist2 = Infinity): Nearest | null {
    if (q.length !== this.dim) throw new RangeError(`query has ${q.length} coordinates, tree has ${this.dim}`);
    this.q = q;
    this.bestIndex = -1;
    this.bestDist2 = maxDist2;
    this.search(0, this.size);
    const slot = this.bestIndex;
    this.q = [];
    return slot < 0 ? null : { index: this.ids[slot], dist2: this.bestDist2 };
  }

  /** Calls `visit` for every point with squared distance to `q` at most `maxDist2`, in no particular order. */
  within(q: ArrayLike<number>, maxDist2: number, visit: (index: number, dist2: number) => void): void {
    if (q.length !== this.dim) throw new RangeError(`query has ${q.length} coordinates, tree has ${this.dim}`);
    this.collect(q, maxDist2, visit, 0, this.size);
  }

  private collect(q: ArrayLike<number>, r2: number, visit: (index: number, dist2: number) => void, lo: number, hi: number): void {
    const { coords, dim } = this;
    const leaf = hi - lo <= LEAF;
    const mid = (lo + hi) >> 1;
    for (let s = leaf ? lo : mid; s < (leaf ? hi : mid + 1); s++) {
      let d2 = 0;
      for (let d = 0; d < dim; d++) {
        const t = q[d] - coords[s * dim + d];
        d2 += t * t;
      }
      if (d2 <= r2) visit(this.ids[s], d2);
    }
    if (leaf) return;
    const diff = q[this.axes[mid]] - coords[mid * dim + this.axes[mid]];
    if (diff <= 0 || diff * diff <= r2) this.collect(q, r2, visit, lo, mid);
    if (diff >= 0 || diff * diff <= r2) this.collect(q, r2, visit, mid + 1, hi);
  }

  private build(lo: number, hi: number): void {
    if (hi - lo <= LEAF) return;
    const { coords, dim } = this;
    // Split on the axis of largest spread (estimated from up to 64 points): it adapts to points on a surface.
    const step = Math.max(1, Math.floor((hi - lo) / 64));
    let axis = 0;
    let spread = -1;
    for (let d = 0; d < dim; d++) {
      let min = Infinity;
      let max = -Infinity;
      for (let i = lo; i < hi; i += step) {
        const v = coords[i * dim + d];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (max - min > spread) {
        spread = max - min;
        axis = d;
      }
    }
    const mid = (lo + hi) >> 1;
    this.select(axis, lo, hi - 1, mid);
    this.axes[mid] = axis;
    this.build(lo, mid);
    this.build(mid + 1, hi);
  }

  /** Quickselect on slots lo..hi (inclusive) so that slot k holds the k-th smallest coordinate on `axis`. */
  private select(axis: number, lo: number, hi: number, k: number): void {
    const { coords, ids, dim } = this;
    while (hi > lo) {
      const pivot = coords[((lo + hi) >> 1) * dim + axis];
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (coords[i * dim + axis] < pivot) i++;
        while (coords[j * dim + axis] > pivot) j--;
        if (i <= j) {
          const t = ids[i];
          ids[i] = ids[j];
          ids[j] = t;
          for (let d = 0; d < dim; d++) {
            const c = coords[i * dim + d];
            coords[i * dim + d] = coords[j * dim + d];
            coords[j * dim + d] = c;
          }
          i++;
          j--;
        }
      }
      if (k <= j) hi = j;
      else if (k >= i) lo = i;
      else return;
    }
  }

  private search(lo: number, hi: number): void {
    const { coords, dim, q } = this;
    if (hi - lo <= LEAF) {
      for (let s = lo; s < hi; s++) this.visit(s);
      return;
    }
    const mid = (lo + hi) >> 1;
    this.visit(mid);
    const axis = this.axes[mid];
    const diff = q[axis] - coords[mid * dim + axis];
    if (diff < 0) {
      this.search(lo, mid);
      if (diff * diff < this.bestDist2) this.search(mid + 1, hi);
    } else {
      this.search(mid + 1, hi);
      if (diff * diff < this.bestDist2) this.search(lo, mid);
    }
  }

  private visit(slot: number): void {
    const { coords, dim, q } = this;
    let d2 = 0;
    for (let d = 0; d < dim; d++) {
      const t = q[d] - coords[slot * dim + d];
      d2 += t * t;
    }
    if (d2 < this.bestDist2) {
      this.bestDist2 = d2;
      this.bestIndex = slot;
    }
  }
}
