// Lambda entry: deregisters one batch of AMIs.
import { EC2Client } from "@aws-sdk/client-ec2";
import { ec2ClientConfig } from "../core/clients";
import { deregisterBatchHandler } from "../core/handlers";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = deregisterBatchHandler(ec2);
