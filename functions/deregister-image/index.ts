// Lambda entry: deregisters one AMI.
import { EC2Client } from "@aws-sdk/client-ec2";
import { ec2ClientConfig } from "../core/clients";
import { deregisterImageHandler } from "../core/handlers";

const ec2 = new EC2Client(ec2ClientConfig);
export const handler = deregisterImageHandler(ec2);
