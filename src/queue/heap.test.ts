import assert from "node:assert/strict";
import { test } from "node:test";
import { IndexedHeap } from "./heap.ts";

interface Item {
  value: number;
  id: number;
  heapIndex: number;
}

const before = (a: Item, b: Item) => a.value < b.value || (a.value === b.value && a.id < b.id);

// A small deterministic generator, so that a failure reproduces.
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

test("push/pop/remove/update keep the order of a sorted reference under random operations", () => {
  const rand = random(42);
  const heap = new IndexedHeap<Item>(before);
  const live: Item[] = [];
  let nextId = 0;
  for (let step = 0; step < 20_000; step++) {
    const r = rand();
    if (r < 0.45 || live.length === 0) {
      const item = { value: Math.floor(rand() * 100), id: nextId++, heapIndex: -1 };
      heap.push(item);
      live.push(item);
    } else if (r < 0.7) {
      const expected = live.reduce((min, x) => (before(x, min) ? x : min));
      assert.equal(heap.peek(), expected);
      assert.equal(heap.pop(), expected);
      assert.equal(expected.heapIndex, -1);
      live.splice(live.indexOf(expected), 1);
    } else if (r < 0.85) {
      const item = live[Math.floor(rand() * live.length)] as Item;
      assert.equal(heap.remove(item), true);
      assert.equal(heap.remove(item), false, "a removed item is no longer in the heap");
      live.splice(live.indexOf(item), 1);
    } else {
      const item = live[Math.floor(rand() * live.length)] as Item;
      item.value = Math.floor(rand() * 100);
      heap.update(item);
    }
    assert.equal(heap.size, live.length);
  }
  const drained: Item[] = [];
  for (let item = heap.pop(); item !== undefined; item = heap.pop()) drained.push(item);
  assert.deepEqual(
    drained,
    [...live].sort((a, b) => (before(a, b) ? -1 : 1)),
  );
});

test("an item is in one heap at a time; clear empties the heap and frees its items", () => {
  const a = new IndexedHeap<Item>(before);
  const b = new IndexedHeap<Item>(before);
  const item = { value: 1, id: 0, heapIndex: -1 };
  a.push(item);
  assert.throws(() => b.push(item), /already in a heap/);
  assert.equal(b.remove(item), false);
  assert.throws(() => b.update(item), /not in this heap/);
  a.clear();
  assert.equal(a.size, 0);
  assert.equal(a.pop(), undefined);
  b.push(item);
  assert.equal(b.pop(), item);
});
