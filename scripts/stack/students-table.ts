// The students table of the local stack: created when missing (key `name`, as the function reads
// it) and loaded from student_data.json, with the years normalised (see students.ts).
import { readFileSync } from "node:fs";
import { CreateTableCommand, DescribeTableCommand, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { normalizeStudentYears, type YearCorrection } from "./students.js";

export interface StudentRecord {
  name: string;
  [field: string]: unknown;
}

/** Reads a student_data.json: an array of records, each with a `name`. */
export function readStudentsFile(file: string): StudentRecord[] {
  const data = JSON.parse(readFileSync(file, "utf8")) as unknown;
  if (!Array.isArray(data)) throw new Error(`${file}: expected a JSON array of student records`);
  return data.map((item: unknown, i) => {
    if (typeof item !== "object" || item === null || typeof (item as { name?: unknown }).name !== "string") {
      throw new Error(`${file}: record ${i} has no "name" string`);
    }
    return item as StudentRecord;
  });
}

export async function ensureStudentsTable(db: DynamoDBDocumentClient, table: string): Promise<boolean> {
  try {
    await db.send(new DescribeTableCommand({ TableName: table }));
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await db.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "name", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "name", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  return true;
}

/** Creates the table if needed and puts every record (puts are idempotent: a re-run is harmless). */
export async function loadStudents(
  db: DynamoDBDocumentClient,
  table: string,
  file: string,
): Promise<{ count: number; created: boolean; corrections: YearCorrection[] }> {
  const { records, corrections } = normalizeStudentYears(readStudentsFile(file));
  const created = await ensureStudentsTable(db, table);
  await Promise.all(records.map((item) => db.send(new PutCommand({ TableName: table, Item: item }))));
  return { count: records.length, created, corrections };
}
