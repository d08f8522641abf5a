// Lambda entry: lists the account's expired AMIs and answers with the next page of Map batches.
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { listExpiredImagesHandler } from "../core/ami/tasks";
import { autoScalingClientConfig, ec2ClientConfig, ssmClientConfig } from "../core/shared/clients";

export const handler = listExpiredImagesHandler({
    ec2: new EC2Client(ec2ClientConfig),
    autoScaling: new AutoScalingClient(autoScalingClientConfig),
    ssm: new SSMClient(ssmClientConfig),
});
