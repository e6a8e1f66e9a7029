import { OutputLog } from "./output-log.js";

test("reads back what was appended, by absolute offset", () => {
  const log = new OutputLog(8);
  log.append(Buffer.from("abc"));
  log.append(Buffer.from("de"));
  expect(log.read(0, 100)).toEqual({ offset: 0, data: Buffer.from("abcde") });
  expect(log.read(3, 100).data.toString()).toBe("de");
  expect(log.read(5, 100).data.length).toBe(0);
});

test("keeps only the last `capacity` bytes and reports where the held bytes start", () => {
  const log = new OutputLog(4);
  log.append(Buffer.from("abcdef"));
  log.append(Buffer.from("gh"));
  expect(log.endOffset).toBe(8);
  expect(log.startOffset).toBe(4);
  expect(log.read(0, 100)).toEqual({ offset: 4, data: Buffer.from("efgh") });
  expect(log.tail()).toEqual({ data: Buffer.from("efgh"), truncated: true });
});

test("wraps around the ring without corrupting bytes", () => {
  const log = new OutputLog(5);
  const all: number[] = [];
  for (let i = 0; i < 40; i++) {
    const chunk = Buffer.from([i, i + 1, i + 2].map((b) => b % 256));
    all.push(...chunk);
    log.append(chunk);
    const held = log.read(0, 100);
    expect([...held.data]).toEqual(all.slice(held.offset));
  }
});

test("changed() wakes a waiting reader on append and on close", async () => {
  const log = new OutputLog(16);
  const woken = log.changed();
  log.append(Buffer.from("x"));
  await expect(woken).resolves.toBeUndefined();
  const closed = log.changed();
  log.close();
  await expect(closed).resolves.toBeUndefined();
  await expect(log.changed()).resolves.toBeUndefined();
});

test("memory follows what was written, not the capacity", () => {
  const log = new OutputLog(64 * 1024 * 1024);
  log.append(Buffer.from("small"));
  expect(log.tail()).toEqual({ data: Buffer.from("small"), truncated: false });
});

test("onChange fires on append and close", () => {
  let calls = 0;
  const log = new OutputLog(8, () => calls++);
  log.append(Buffer.from("a"));
  log.close();
  expect(calls).toBe(2);
});
