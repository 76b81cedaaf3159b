import { describe, expect, test } from 'vitest';

import { DecodeGate, type Release } from '../../src/image/decode-gate.js';

const MB = 1024 * 1024;
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('decode gate', () => {
  test('never runs more decodes than its concurrency', async () => {
    const gate = new DecodeGate({ concurrency: 2, memoryBytes: 1000 * MB });
    const started: Release[] = [];
    const waits = Array.from({ length: 8 }, () => gate.acquire(10 * MB).then((release) => started.push(release)));
    await settle();
    expect(started).toHaveLength(2);
    expect(gate.state).toEqual({ running: 2, usedBytes: 20 * MB, waiting: 6 });

    started[0]!();
    await settle();
    expect(started).toHaveLength(3);
    expect(gate.state.running).toBe(2);
    while (started.length < 8) {
      started[started.length - 1]!();
      started[started.length - 2]!();
      await settle();
    }
    await Promise.all(waits);
  });

  test('a decode waits until the memory it needs is free', async () => {
    const gate = new DecodeGate({ concurrency: 4, memoryBytes: 400 * MB });
    const first = await gate.acquire(300 * MB);
    let second: Release | undefined;
    void gate.acquire(300 * MB).then((release) => (second = release));
    await settle();
    expect(second).toBeUndefined();
    expect(gate.state).toEqual({ running: 1, usedBytes: 300 * MB, waiting: 1 });

    first();
    first(); // a second call gives nothing back twice
    await settle();
    expect(second).toBeDefined();
    expect(gate.state).toEqual({ running: 1, usedBytes: 300 * MB, waiting: 0 });
  });

  test('waiters start in arrival order: a small decode does not overtake a large one', async () => {
    const gate = new DecodeGate({ concurrency: 4, memoryBytes: 400 * MB });
    const order: string[] = [];
    const first = await gate.acquire(300 * MB);
    const large = gate.acquire(350 * MB).then((release) => (order.push('large'), release));
    const small = gate.acquire(10 * MB).then((release) => (order.push('small'), release));
    await settle();
    expect(order).toEqual([]);

    first();
    (await large)();
    (await small)();
    expect(order).toEqual(['large', 'small']);
  });

  test('a decode larger than the whole budget is refused instead of waiting forever', async () => {
    const gate = new DecodeGate({ concurrency: 1, memoryBytes: 100 * MB });
    expect(gate.fits(100 * MB)).toBe(true);
    expect(gate.fits(100 * MB + 1)).toBe(false);
    await expect(gate.acquire(101 * MB)).rejects.toThrow(RangeError);
    expect(gate.state).toEqual({ running: 0, usedBytes: 0, waiting: 0 });
  });

  test('limits must be usable', () => {
    expect(() => new DecodeGate({ concurrency: 0, memoryBytes: MB })).toThrow(RangeError);
    expect(() => new DecodeGate({ concurrency: 1.5, memoryBytes: MB })).toThrow(RangeError);
    expect(() => new DecodeGate({ concurrency: 1, memoryBytes: 0 })).toThrow(RangeError);
  });
});
