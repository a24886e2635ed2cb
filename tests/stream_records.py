"""Prints the records of a DynamoDB table's stream on moto_server as a
Lambda event ({"Records": [...]}), as the event source mapping would hand
them to the stream consumer (without its filter: the consumer skips what
is not a new log entry on its own).

    python3 stream_records.py ENDPOINT TABLE
"""
import json
import sys

import boto3

endpoint, table = sys.argv[1], sys.argv[2]
session = dict(endpoint_url=endpoint, region_name="us-east-1",
               aws_access_key_id="test", aws_secret_access_key="test")
dynamodb = boto3.client("dynamodb", **session)
streams = boto3.client("dynamodbstreams", **session)
arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
records = []
for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    while iterator:
        page = streams.get_records(ShardIterator=iterator)
        for record in page["Records"]:
            change = record["dynamodb"]
            change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].timestamp()
            record["eventSourceARN"] = arn
            records.append(record)
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
json.dump({"Records": records}, sys.stdout, default=str)
