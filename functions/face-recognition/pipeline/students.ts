// Stage 5: identified names → student records. DynamoDB (table keyed on `name`) in the cloud, or a
// local student_data.json. A name with no record is still reported, with empty major and year.
import { readFile } from "node:fs/promises";
import { GetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { normalizeStudentYears } from "../../../scripts/stack/students.js";

export interface Student {
  name: string;
  major: string;
  year: string;
}

export interface StudentDirectory {
  /** The record, or undefined when the name has none. */
  find(name: string): Promise<Student | undefined>;
}

export class DynamoStudentDirectory implements StudentDirectory {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async find(name: string): Promise<Student | undefined> {
    const got = await this.db.send(new GetCommand({ TableName: this.table, Key: { name } }));
    return got.Item ? toStudent(got.Item) : undefined;
  }
}

export class FileStudentDirectory implements StudentDirectory {
  private constructor(private readonly byName: Map<string, Student>) {}

  static async load(file: string): Promise<FileStudentDirectory> {
    // The same corrections as the table gets when the stack loads it (see normalizeStudentYears).
    const { records } = normalizeStudentYears(
      parseStudentRecords(JSON.parse(await readFile(file, "utf8")) as unknown, file),
    );
    return new FileStudentDirectory(new Map(records.map((s) => [s.name, s])));
  }

  async find(name: string): Promise<Student | undefined> {
    return this.byName.get(name);
  }
}

/** Validates a student_data.json array: `[{name, major, year, ...}]`. */
export function parseStudentRecords(data: unknown, source: string): (Student & Record<string, unknown>)[] {
  if (!Array.isArray(data)) throw new Error(`${source}: expected a JSON array of student records`);
  return data.map((item, i) => {
    if (typeof item !== "object" || item === null || typeof (item as { name?: unknown }).name !== "string") {
      throw new Error(`${source}: record ${i} has no "name" string`);
    }
    return { ...(item as Record<string, unknown>), ...toStudent(item as Record<string, unknown>) };
  });
}

function toStudent(item: Record<string, unknown>): Student {
  const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  return { name: text(item.name), major: text(item.major), year: text(item.year) };
}
