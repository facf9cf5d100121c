// The DynamoDB document client: AWS DynamoDB in production, any endpoint (dynalite) locally.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type DynamoSettings, quietSdkNodeWarning } from "./cloud.js";

export function createDynamoClient(settings: DynamoSettings): DynamoDBDocumentClient {
  quietSdkNodeWarning();
  const client = new DynamoDBClient({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
    maxAttempts: 3,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
