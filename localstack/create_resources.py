"""Creates what a coffer deployment needs in a local AWS (moto or LocalStack): the storage table
(pk/sk strings, on-demand, as docs/storage.md describes) and a KMS key aliased alias/coffer-seal.
Idempotent. Usage: python create_resources.py ENDPOINT [TABLE]"""

import sys

import boto3

endpoint = sys.argv[1]
table = sys.argv[2] if len(sys.argv) > 2 else "coffer"

dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
if table not in dynamodb.list_tables()["TableNames"]:
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table)

kms = boto3.client("kms", endpoint_url=endpoint)
aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
if "alias/coffer-seal" not in aliases:
    key = kms.create_key(Description="coffer seal (local)")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/coffer-seal", TargetKeyId=key)
print(f"table {table} and alias/coffer-seal ready at {endpoint}")
