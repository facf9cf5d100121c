// A real dynalite, started and stopped by the module under test (not the one of global-setup).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { isOurProcess } from "../../../lib/daemon.js";
import { freePort } from "../../../lib/net.js";
import { dynaliteStatus, startDynalite, stopDynalite } from "../../../scripts/stack/dynalite.js";

const dir = mkdtempSync(join(tmpdir(), "dynalite-test-"));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function client(endpoint: string): DynamoDBDocumentClient {
  const db = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "fake-key", secretAccessKey: "fake-secret" },
  });
  return DynamoDBDocumentClient.from(db);
}

async function roundTrip(endpoint: string, table: string): Promise<unknown> {
  const db = client(endpoint);
  try {
    await db.send(
      new CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: "name", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "name", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    // As with DynamoDB, a new table takes writes once it is ACTIVE (on a data path, dynalite can
    // answer the create before it has stored the status).
    await waitUntilTableExists({ client: db, maxWaitTime: 30 }, { TableName: table });
    await db.send(new PutCommand({ TableName: table, Item: { name: "floki", year: "junior" } }));
    return (await db.send(new GetCommand({ TableName: table, Key: { name: "floki" } }))).Item;
  } finally {
    db.destroy();
  }
}

describe("dynalite", () => {
  it("starts in memory, answers DynamoDB calls, is reused, and stops by pid", async () => {
    const port = await freePort();
    const options = { port, pidFile: join(dir, "mem.pid"), logFile: join(dir, "mem.log"), marker: dir };
    const started = await startDynalite(options);
    expect(started.reused).toBe(false);
    expect(started.endpoint).toBe(`http://127.0.0.1:${port}`);
    expect(await roundTrip(started.endpoint, "students")).toEqual({ name: "floki", year: "junior" });

    const again = await startDynalite(options);
    expect(again).toEqual({ ...started, reused: true });
    expect(await dynaliteStatus(options)).toMatchObject({ pid: started.pid, running: true, answers: true });

    await stopDynalite(options);
    expect(isOurProcess(started.pid, dir)).toBe(false);
    expect(await dynaliteStatus(options)).toMatchObject({ running: false, answers: false });
  });

  it("keeps its tables on a data path across a restart", async () => {
    const port = await freePort();
    const dataPath = join(dir, "data");
    const options = { port, pidFile: join(dir, "disk.pid"), logFile: join(dir, "disk.log"), marker: dir, dataPath };
    const first = await startDynalite(options);
    await roundTrip(first.endpoint, "kept");
    await stopDynalite(options);
    expect(existsSync(dataPath)).toBe(true);

    const second = await startDynalite(options);
    expect(second.pid).not.toBe(first.pid);
    const db = client(second.endpoint);
    try {
      const got = await db.send(new GetCommand({ TableName: "kept", Key: { name: "floki" } }));
      expect(got.Item).toEqual({ name: "floki", year: "junior" });
    } finally {
      db.destroy();
      await stopDynalite(options);
    }
  });

  it("refuses a port someone else holds", async () => {
    const port = await freePort();
    const holder = { port, pidFile: join(dir, "holder.pid"), logFile: join(dir, "holder.log"), marker: dir };
    await startDynalite(holder);
    try {
      const other = { ...holder, pidFile: join(dir, "other.pid"), logFile: join(dir, "other.log") };
      await expect(startDynalite(other)).rejects.toThrow(/in use/);
    } finally {
      await stopDynalite(holder);
    }
  });
});
