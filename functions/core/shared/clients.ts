// SDK client settings shared by every entry and the local runner. The SDK retries short blips; sustained EC2
// throttling is absorbed by the batch pool's own backoff (pool.ts), which knows how long the invocation has left.
import type { AutoScalingClientConfig } from "@aws-sdk/client-auto-scaling";
import type { EC2ClientConfig } from "@aws-sdk/client-ec2";
import type { SSMClientConfig } from "@aws-sdk/client-ssm";

export const ec2ClientConfig: EC2ClientConfig = { retryMode: "standard", maxAttempts: 3 };
export const autoScalingClientConfig: AutoScalingClientConfig = { retryMode: "standard", maxAttempts: 3 };
export const ssmClientConfig: SSMClientConfig = { retryMode: "standard", maxAttempts: 3 };
