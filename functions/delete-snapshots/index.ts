// Lambda entry: deletes one AMI's EBS snapshots.
import { EC2Client } from "@aws-sdk/client-ec2";
import { ec2ClientConfig } from "../core/clients";
import { deleteSnapshotsHandler } from "../core/handlers";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = deleteSnapshotsHandler(ec2);
