// Lambda entry: deregisters one batch of AMIs.
import { EC2Client } from "@aws-sdk/client-ec2";
import { deregisterBatchHandler } from "../core/ami/tasks";
import { ec2ClientConfig } from "../core/shared/clients";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = deregisterBatchHandler(ec2);
