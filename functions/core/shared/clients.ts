// SDK client settings shared by every entry. The SDK retries short blips; sustained EC2 throttling is absorbed by
// the batch pool's own backoff (pool.ts), which knows how long the invocation has left.
import type { EC2ClientConfig } from "@aws-sdk/client-ec2";

export const ec2ClientConfig: EC2ClientConfig = { retryMode: "standard", maxAttempts: 3 };
