// Stage 5: identified names → student records. DynamoDB (table keyed on `name`) in the cloud, or a
// local student_data.json. A name with no record is still reported, with empty major and year.
import { GetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { readStudentsFile } from "../../../lib/students.js";

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
    // The same records, corrections included, as the table gets when it is loaded.
    const { records } = await readStudentsFile(file);
    return new FileStudentDirectory(new Map(records.map((r) => [r.name, toStudent(r)])));
  }

  async find(name: string): Promise<Student | undefined> {
    return this.byName.get(name);
  }
}

function toStudent(item: Record<string, unknown>): Student {
  const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  return { name: text(item.name), major: text(item.major), year: text(item.year) };
}
