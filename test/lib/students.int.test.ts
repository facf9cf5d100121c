// Loading the students table against the test run's dynalite: created and waited for once,
// every record written, a second load harmless.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { createDynamoClient } from "../../lib/dynamo.js";
import { loadStudents } from "../../lib/students.js";

const db = createDynamoClient({
  endpoint: process.env.DYNAMODB_ENDPOINT,
  region: "us-east-1",
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
});
const table = `students-${Date.now().toString(36)}`;
const file = join(mkdtempSync(join(tmpdir(), "students-int-")), "student_data.json");
// More than one BatchWrite holds (25).
const records = Array.from({ length: 30 }, (_, i) => ({ name: `student_${i}`, major: "physics", year: "seniors" }));
writeFileSync(file, JSON.stringify(records));

afterAll(() => db.destroy());

describe("loadStudents", () => {
  it("creates the table, waits until it takes writes, and writes every record with its year corrected", async () => {
    const first = await loadStudents(db, table, file);
    expect(first).toMatchObject({ count: 30, created: true });
    expect(first.corrections).toHaveLength(30);
    const item = await db.send(new GetCommand({ TableName: table, Key: { name: "student_29" } }));
    expect(item.Item).toEqual({ name: "student_29", major: "physics", year: "senior" });
  });

  it("loads again into the existing table without creating it", async () => {
    expect(await loadStudents(db, table, file)).toMatchObject({ count: 30, created: false });
  });
});
