// Stage 5: identified names → student records. DynamoDB (table keyed on `name`) in the cloud, a
// local student_data.json, or no source at all (the CLI with neither configured). A name with no
// record is still reported, with empty major and year.
import { GetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readStudentsFile } from "../../../lib/students.js";

export interface Student {
  name: string;
  major: string;
  year: string;
}

export interface StudentDirectory {
  /** `none`: no source was configured, so a name without a record is expected, not worth a warning. */
  readonly kind: "table" | "file" | "none";
  /** The record, or undefined when the name has none. */
  find(name: string): Promise<Student | undefined>;
}

/** A configured source that failed: names the source and the cause, never a credential. */
class StudentSourceError extends Error {
  constructor(source: string, cause: unknown) {
    super(`${source}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StudentSourceError";
  }
}

export class DynamoStudentDirectory implements StudentDirectory {
  readonly kind = "table";

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async find(name: string): Promise<Student | undefined> {
    try {
      const got = await this.db.send(new GetCommand({ TableName: this.table, Key: { name } }));
      return got.Item ? toStudent(got.Item) : undefined;
    } catch (err) {
      throw new StudentSourceError(`students table "${this.table}" (DynamoDB) lookup failed`, err);
    }
  }
}

export class FileStudentDirectory implements StudentDirectory {
  readonly kind = "file";

  private constructor(private readonly byName: Map<string, Student>) {}

  static async load(file: string): Promise<FileStudentDirectory> {
    try {
      // The same records, corrections included, as the table gets when it is loaded.
      const { records } = await readStudentsFile(file);
      return new FileStudentDirectory(new Map(records.map((r) => [r.name, toStudent(r)])));
    } catch (err) {
      throw new StudentSourceError(`students file ${file} cannot be used`, err);
    }
  }

  async find(name: string): Promise<Student | undefined> {
    return this.byName.get(name);
  }
}

/** No source configured: knows no one. Only ever built from `{ kind: "none" }` settings. */
export class NoStudentDirectory implements StudentDirectory {
  readonly kind = "none";

  async find(): Promise<undefined> {
    return undefined;
  }
}

function toStudent(item: Record<string, unknown>): Student {
  const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  return { name: text(item.name), major: text(item.major), year: text(item.year) };
}
