// SDK client settings shared by every entry: adaptive retries absorb EC2's token-bucket throttling first.
import type { EC2ClientConfig } from "@aws-sdk/client-ec2";

export const ec2ClientConfig: EC2ClientConfig = { retryMode: "adaptive", maxAttempts: 8 };
