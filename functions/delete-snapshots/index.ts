// Lambda entry: deletes what is left of one batch's EBS snapshots.
import { EC2Client } from "@aws-sdk/client-ec2";
import { ec2ClientConfig } from "../core/clients";
import { deleteSnapshotsBatchHandler } from "../core/handlers";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = deleteSnapshotsBatchHandler(ec2);
