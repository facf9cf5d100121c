// Student records: reading student_data.json, the one correction the course's files need, and
// loading the DynamoDB table (key `name`, as the function reads it). Shared by the function's
// local directory, `facerec students load` and the local stack.
import { readFile } from "node:fs/promises";
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export interface StudentRecord {
  name: string;
  [field: string]: unknown;
}

/**
 * student_data.json spells mr_bean's year "freshmen" while the grader's mapping expects
 * "freshman": known misspellings of a year are corrected on load, and each correction is reported.
 */
const YEAR_SPELLINGS: Readonly<Record<string, string>> = {
  freshmen: "freshman",
  sophomores: "sophomore",
  juniors: "junior",
  seniors: "senior",
};

export interface YearCorrection {
  name: string;
  from: string;
  to: string;
}

export function normalizeYear(year: string): string {
  return YEAR_SPELLINGS[year.trim().toLowerCase()] ?? year;
}

/** Copies of the records with `year` normalised (input untouched), and the corrections made. */
export function normalizeStudentYears<T extends { name: string; year?: unknown }>(
  records: readonly T[],
): { records: T[]; corrections: YearCorrection[] } {
  const corrections: YearCorrection[] = [];
  const normalized = records.map((record) => {
    if (typeof record.year !== "string") return { ...record };
    const year = normalizeYear(record.year);
    if (year === record.year) return { ...record };
    corrections.push({ name: record.name, from: record.year, to: year });
    return { ...record, year };
  });
  return { records: normalized, corrections };
}

/** Validates a student_data.json value: an array of records, each with a `name` string. */
function parseStudentRecords(data: unknown, source: string): StudentRecord[] {
  if (!Array.isArray(data)) throw new Error(`${source}: expected a JSON array of student records`);
  return data.map((item: unknown, i) => {
    if (typeof item !== "object" || item === null || typeof (item as { name?: unknown }).name !== "string") {
      throw new Error(`${source}: record ${i} has no "name" string`);
    }
    return item as StudentRecord;
  });
}

/** The records of a student_data.json file, years normalised. */
export async function readStudentsFile(
  file: string,
): Promise<{ records: StudentRecord[]; corrections: YearCorrection[] }> {
  return normalizeStudentYears(parseStudentRecords(JSON.parse(await readFile(file, "utf8")) as unknown, file));
}

/** Creates the table when missing and waits until it is active; true when it was created. */
async function ensureStudentsTable(db: DynamoDBDocumentClient, table: string): Promise<boolean> {
  try {
    await db.send(new DescribeTableCommand({ TableName: table }));
    return false;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  await db.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: "name", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "name", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await waitUntilTableExists({ client: db, maxWaitTime: 60, minDelay: 1, maxDelay: 5 }, { TableName: table });
  return true;
}

/** Creates the table if needed and writes every record (idempotent: a re-run is harmless). */
export async function loadStudents(
  db: DynamoDBDocumentClient,
  table: string,
  file: string,
): Promise<{ count: number; created: boolean; corrections: YearCorrection[] }> {
  const { records, corrections } = await readStudentsFile(file);
  const created = await ensureStudentsTable(db, table);
  for (let i = 0; i < records.length; i += 25) {
    const batch = records.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    let unprocessed: Record<string, typeof batch> | undefined = { [table]: batch };
    // BatchWrite may hand back what it did not write: retry those.
    for (let attempt = 0; unprocessed && Object.keys(unprocessed).length > 0 && attempt < 10; attempt++) {
      const result = await db.send(new BatchWriteCommand({ RequestItems: unprocessed }));
      unprocessed = result.UnprocessedItems as Record<string, typeof batch> | undefined;
    }
  }
  return { count: records.length, created, corrections };
}
