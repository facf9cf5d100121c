// Ceph bucket notifications: an SNS-style topic on the RGW itself (push endpoint = our HTTP
// receiver), then the bucket's notification configuration pointing at it. Ceph-specific: the
// topic attributes `push-endpoint` and `persistent` mean nothing to AWS SNS.
import { PutBucketNotificationConfigurationCommand } from "@aws-sdk/client-s3";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { createS3Client } from "./s3.js";

export interface BucketNotificationOptions {
  /** The RGW endpoint, e.g. http://127.0.0.1:7480. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  bucket: string;
  topicName: string;
  /** Where RGW POSTs the events, e.g. http://127.0.0.1:8081/notify. */
  pushEndpoint: string;
  /** Only keys ending with this (e.g. ".mp4"); every key when absent. */
  suffix?: string;
  prefix?: string;
  /**
   * true: RGW queues and retries until the receiver answers 2xx (first deliveries take 18–24 s in
   * Ceph 16.2). false: delivered at once but inside the uploader's PUT, and dropped on failure.
   */
  persistent?: boolean;
  /** Notification id; defaults to the topic name. */
  id?: string;
}

/**
 * Creates (or updates: CreateTopic is idempotent) the topic and adds the bucket notification.
 * Note that RGW *adds* to a bucket's configuration instead of replacing it like AWS does: use
 * fresh ids, or delete stale ones with `DELETE /<bucket>?notification=<id>`. Returns the topic ARN.
 */
export async function setupBucketNotification(options: BucketNotificationOptions): Promise<{ topicArn: string }> {
  const region = options.region ?? "us-east-1";
  const credentials = { accessKeyId: options.accessKey, secretAccessKey: options.secretKey };
  const sns = new SNSClient({ region, endpoint: options.endpoint, credentials, maxAttempts: 3 });
  let topicArn: string;
  try {
    const created = await sns.send(
      new CreateTopicCommand({
        Name: options.topicName,
        Attributes: {
          "push-endpoint": options.pushEndpoint,
          persistent: String(options.persistent ?? true),
        },
      }),
    );
    if (!created.TopicArn) throw new Error(`CreateTopic ${options.topicName}: no TopicArn in the answer`);
    topicArn = created.TopicArn;
  } finally {
    sns.destroy();
  }

  const rules = [
    ...(options.prefix ? [{ Name: "prefix" as const, Value: options.prefix }] : []),
    ...(options.suffix ? [{ Name: "suffix" as const, Value: options.suffix }] : []),
  ];
  const s3 = createS3Client({
    endpoint: options.endpoint,
    region,
    accessKeyId: options.accessKey,
    secretAccessKey: options.secretKey,
  });
  try {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: options.bucket,
        NotificationConfiguration: {
          TopicConfigurations: [
            {
              Id: options.id ?? options.topicName,
              TopicArn: topicArn,
              Events: ["s3:ObjectCreated:*"],
              ...(rules.length > 0 ? { Filter: { Key: { FilterRules: rules } } } : {}),
            },
          ],
        },
      }),
    );
  } finally {
    s3.destroy();
  }
  return { topicArn };
}
