// The jobs table's creation: created when missing (by whichever replica starts first), then
// waited for with the SDK's waiter. A table of an older key schema is refused with what to do.
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";

const KEY_SCHEMA = [
  { AttributeName: "video", KeyType: "HASH" as const },
  { AttributeName: "upload", KeyType: "RANGE" as const },
];

export async function ensureJobsTable(client: DynamoDBClient, table: string, maxWaitSeconds = 60): Promise<void> {
  try {
    const described = await client.send(new DescribeTableCommand({ TableName: table }));
    checkKeySchema(table, described.Table?.KeySchema);
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await create(client, table);
  }
  await waitUntilTableExists({ client, maxWaitTime: maxWaitSeconds, minDelay: 1, maxDelay: 2 }, { TableName: table });
}

async function create(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: KEY_SCHEMA.map(({ AttributeName }) => ({ AttributeName, AttributeType: "S" })),
        KeySchema: KEY_SCHEMA,
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
  } catch (error) {
    // Another replica created it at the same moment.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

function checkKeySchema(table: string, schema: { AttributeName?: string; KeyType?: string }[] = []): void {
  const text = (keys: { AttributeName?: string; KeyType?: string }[]) =>
    keys.map((k) => `${k.AttributeName} ${k.KeyType}`).join(", ");
  if (text(schema) === text(KEY_SCHEMA)) return;
  // Keyed by ETag alone, a re-upload of content seen before would never run again.
  throw new Error(
    `table ${table} has the key (${text(schema)}), not (${text(KEY_SCHEMA)}): it was made by an older trigger; set JOBS_TABLE to a new table`,
  );
}
