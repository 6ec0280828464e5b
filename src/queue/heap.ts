/** The slot a heap keeps on each item it holds, so that an item can be removed or re-sorted in O(log n). */
export interface HeapSlot {
  /** Position in the heap's array; -1 while the item is in no heap. */
  heapIndex: number;
}

/**
 * A binary heap that records each item's position on the item itself. That makes `remove` and `update` O(log n)
 * without a side map or lazy deletion, at the price that an item can sit in only one heap at a time.
 */
export class IndexedHeap<T extends HeapSlot> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  /** `before(a, b)` is true when `a` must come out before `b`; it must be a strict ordering. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  /** Number of items held. */
  get size(): number {
    return this.#items.length;
  }

  /** The item that `pop` would return, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an item that is in no heap. */
  push(item: T): void {
    if (item.heapIndex !== -1) throw new Error("item is already in a heap");
    this.#items.push(item);
    this.#siftUp(item, this.#items.length - 1);
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    if (top === undefined) return undefined;
    this.#removeAt(0);
    return top;
  }

  /** Removes an item from anywhere in this heap; false if it was not in it. */
  remove(item: T): boolean {
    const index = item.heapIndex;
    if (index < 0 || this.#items[index] !== item) return false;
    this.#removeAt(index);
    return true;
  }

  /** Restores the order after the fields that `before` reads changed on an item of this heap. */
  update(item: T): void {
    const index = item.heapIndex;
    if (index < 0 || this.#items[index] !== item) throw new Error("item is not in this heap");
    this.#siftUp(item, index);
    if (item.heapIndex === index) this.#siftDown(item, index);
  }

  /** Removes every item. */
  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items.length = 0;
  }

  #removeAt(index: number): void {
    const items = this.#items;
    const removed = items[index] as T;
    removed.heapIndex = -1;
    const last = items.pop() as T;
    if (index === items.length) return; // the removed item was the last one
    // The last item fills the hole; it may belong above or below it.
    this.#siftUp(last, index);
    if (last.heapIndex === index) this.#siftDown(last, index);
  }

  // Both sifts move a hole rather than swapping, and place `item` once at the end.
  #siftUp(item: T, index: number): void {
    const items = this.#items;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (!this.#before(item, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #siftDown(item: T, index: number): void {
    const items = this.#items;
    const length = items.length;
    for (;;) {
      let childIndex = 2 * index + 1;
      if (childIndex >= length) break;
      let child = items[childIndex] as T;
      const rightIndex = childIndex + 1;
      if (rightIndex < length) {
        const right = items[rightIndex] as T;
        if (this.#before(right, child)) {
          childIndex = rightIndex;
          child = right;
        }
      }
      if (!this.#before(child, item)) break;
      items[index] = child;
      child.heapIndex = index;
      index = childIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
