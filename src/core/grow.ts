/** A growable typed array (a JS number[] of 10⁸ entries costs 8 bytes each and copies on growth). */
export class Grow<T extends Int32Array | Float32Array | Float64Array> {
  length = 0;
  constructor(
    public a: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.length === this.a.length) {
      const b = this.make(Math.max(1024, this.a.length * 2));
      b.set(this.a);
      this.a = b;
    }
    this.a[this.length++] = v;
  }
  /** The pushed values, in a typed array of their length. */
  done(): T {
    return this.a.slice(0, this.length) as T;
  }
}
