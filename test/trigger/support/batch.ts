// For a test file: a batch of real tiny videos in a fresh input bucket, the real function for it,
// and the trigger processes the tests start, all set up before the file's tests and stopped after.
import { afterAll, beforeAll } from "vitest";
import { type FunctionProcess, startRealFunction, type TriggerProcess, tinyVideo } from "./processes.js";
import { createBuckets, dynamoStore, inParallel, put, s3Client, uniqueName } from "./services.js";

export function withRealBatch(name: string, keys: readonly string[]) {
  const table = uniqueName(`jobs-${name}`);
  const batch = {
    input: uniqueName(`in-${name}`),
    output: uniqueName(`out-${name}`),
    table,
    store: dynamoStore(table),
    fn: undefined as unknown as FunctionProcess,
    triggers: [] as TriggerProcess[],
  };
  beforeAll(async () => {
    const s3 = s3Client();
    await createBuckets(s3, batch.input, batch.output);
    const [started] = await Promise.all([
      startRealFunction("function", { input: batch.input, output: batch.output }),
      tinyVideo().then((video) => inParallel(keys, 8, (key) => put(s3, batch.input, key, video))),
    ]);
    batch.fn = started;
  });
  afterAll(async () => {
    for (const trigger of batch.triggers) await trigger.stop();
    await batch.fn?.stop();
  });
  return batch;
}
