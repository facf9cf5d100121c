// Connection settings shared by the function, the trigger and the scripts: the Ceph RGW (S3 API)
// and DynamoDB (AWS itself, or a local endpoint such as dynalite). Names are the seed's names.
import type { SettingsReader } from "./config.js";

export interface S3Settings {
  /** Ceph RGW endpoint; unset means AWS S3 itself. */
  endpoint?: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  inputBucket: string;
  outputBucket: string;
}

export interface DynamoSettings {
  /** Unset means AWS DynamoDB itself. */
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function readS3Settings(read: SettingsReader): S3Settings {
  return {
    endpoint: read.optionalUrl("S3_ENDPOINT"),
    region: read.string("S3_REGION", "us-east-1"),
    accessKeyId: read.secret("S3_AWS_ACCESS_KEY_ID", "s3-access-key-id") ?? "",
    secretAccessKey: read.secret("S3_AWS_SECRET_ACCESS_KEY", "s3-secret-access-key") ?? "",
    inputBucket: read.string("INPUT_BUCKET", "input"),
    outputBucket: read.string("OUTPUT_BUCKET", "output"),
  };
}

export function readDynamoSettings(read: SettingsReader): DynamoSettings {
  // Without explicit keys the SDK's default chain applies (instance role, ~/.aws, ...).
  return {
    endpoint: read.optionalUrl("DYNAMODB_ENDPOINT"),
    region: read.string("AWS_REGION", "us-east-1"),
    accessKeyId: read.secret("AWS_ACCESS_KEY_ID", "aws-access-key-id", false),
    secretAccessKey: read.secret("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key", false),
  };
}

/**
 * The SDK prints a multi-line "upgrade to Node 22" warning on Node 20, outside our JSON logs.
 * Node 20 is this project's documented floor; the notice is in the README.
 */
export function quietSdkNodeWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}
