package ecom.delta;

import io.delta.storage.HadoopFileSystemLogStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbClientBuilder;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * A Delta log store for S3 tables written by more than one Spark driver (the batch and stream jobs).
 *
 * S3 has no "put if absent": two drivers committing version N of a table at once could both write
 * N.json, and one commit would be lost. A commit here first claims N.json with a conditional
 * DynamoDB PutItem (exactly one claim of a file name succeeds; the loser gets
 * FileAlreadyExistsException and Delta retries on top of the winner's version), writes its actions
 * to a temporary file, copies them into place and marks the claim complete. A writer that dies in
 * between leaves an incomplete claim: the next writer or reader of the table finishes it.
 *
 * Settings (Hadoop configuration, i.e. spark.hadoop.ecom.delta.log.*): table, region, endpoint
 * (an emulator), accessKey and secretKey (else the default AWS credentials), ttlSeconds.
 */
public class DynamoDBLogStore extends HadoopFileSystemLogStore {
  private static final String PREFIX = "ecom.delta.log.";
  private static final Map<String, DynamoDbClient> CLIENTS = new ConcurrentHashMap<>();
  private final String table;
  private final long ttlSeconds;
  private final DynamoDbClient dynamo;

  public DynamoDBLogStore(Configuration conf) {
    super(conf);
    this.table = conf.get(PREFIX + "table", "ecom-delta-log");
    this.ttlSeconds = conf.getLong(PREFIX + "ttlSeconds", 86400L);
    this.dynamo = client(conf);
  }

  private static DynamoDbClient client(Configuration conf) {
    String region = conf.get(PREFIX + "region", "us-east-1");
    String endpoint = conf.get(PREFIX + "endpoint", "");
    String accessKey = conf.get(PREFIX + "accessKey", "");
    String secretKey = conf.get(PREFIX + "secretKey", "");
    String key = region + "|" + endpoint + "|" + accessKey;
    return CLIENTS.computeIfAbsent(key, k -> {
      AwsCredentialsProvider credentials = accessKey.isEmpty()
          ? DefaultCredentialsProvider.create()
          : StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey));
      DynamoDbClientBuilder builder = DynamoDbClient.builder()
          .region(Region.of(region))
          .credentialsProvider(credentials)
          .httpClientBuilder(ApacheHttpClient.builder());
      if (!endpoint.isEmpty()) {
        builder = builder.endpointOverride(URI.create(endpoint));
      }
      return builder.build();
    });
  }

  @Override
  public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration conf) throws IOException {
    FileSystem fs = path.getFileSystem(conf);
    if (overwrite) {  // checkpoints and _last_checkpoint: not commits, no claim needed
      writeFile(fs, path, actions);
      return;
    }
    Path log = path.getParent();
    finishPrevious(fs, log, path.getName());
    if (fs.exists(path)) {  // committed long ago, its claim expired since
      throw new FileAlreadyExistsException(path.toString());
    }
    String temp = ".tmp/" + path.getName() + "." + UUID.randomUUID();
    writeFile(fs, new Path(log, temp), actions);
    Map<String, AttributeValue> item = key(log, path.getName());
    item.put("tempPath", AttributeValue.fromS(temp));
    item.put("complete", AttributeValue.fromS("false"));
    try {
      dynamo.putItem(b -> b.tableName(table).item(item).conditionExpression("attribute_not_exists(fileName)"));
    } catch (ConditionalCheckFailedException lost) {
      fs.delete(new Path(log, temp), false);
      throw new FileAlreadyExistsException(path.toString());
    }
    finish(fs, log, path.getName(), temp);
    fs.delete(new Path(log, temp), false);
  }

  @Override
  public Iterator<FileStatus> listFrom(Path path, Configuration conf) throws IOException {
    FileSystem fs = path.getFileSystem(conf);
    Path log = path.getParent();
    List<Map<String, AttributeValue>> latest = dynamo.query(b -> b.tableName(table)
        .keyConditionExpression("tablePath = :t")
        .expressionAttributeValues(Map.of(":t", AttributeValue.fromS(tableKey(log))))
        .scanIndexForward(false).limit(1)).items();
    for (Map<String, AttributeValue> entry : latest) {
      finishIfIncomplete(fs, log, entry);
    }
    return super.listFrom(path, conf);
  }

  @Override
  public Boolean isPartialWriteVisible(Path path, Configuration conf) {
    return false;  // each commit file is written by one PUT
  }

  private void finishPrevious(FileSystem fs, Path log, String name) throws IOException {
    String stem = name.substring(0, name.indexOf('.'));
    if (!name.endsWith(".json") || !stem.chars().allMatch(Character::isDigit) || Long.parseLong(stem) == 0) {
      return;
    }
    String previous = String.format("%020d.json", Long.parseLong(stem) - 1);
    Map<String, AttributeValue> entry = dynamo.getItem(b -> b.tableName(table).key(key(log, previous))
        .consistentRead(true)).item();
    if (entry != null && !entry.isEmpty()) {
      finishIfIncomplete(fs, log, entry);
    }
  }

  private void finishIfIncomplete(FileSystem fs, Path log, Map<String, AttributeValue> entry) throws IOException {
    if ("true".equals(entry.get("complete").s())) {
      return;
    }
    finish(fs, log, entry.get("fileName").s(), entry.get("tempPath").s());
  }

  /**
   * Copy the claimed temporary file into place (idempotent: the same content) and mark the claim
   * complete. Only the writer that claimed the file removes its temporary file afterwards.
   */
  private void finish(FileSystem fs, Path log, String name, String temp) throws IOException {
    Path target = new Path(log, name);
    if (!fs.exists(target)) {
      byte[] content;
      try (InputStream in = fs.open(new Path(log, temp))) {
        content = in.readAllBytes();
      }
      try (OutputStream out = fs.create(target, true)) {
        out.write(content);
      }
    }
    long expire = System.currentTimeMillis() / 1000 + ttlSeconds;
    dynamo.updateItem(b -> b.tableName(table).key(key(log, name))
        .updateExpression("SET complete = :c, expireTime = :e")
        .expressionAttributeValues(Map.of(":c", AttributeValue.fromS("true"), ":e", AttributeValue.fromN(Long.toString(expire)))));
  }

  private static void writeFile(FileSystem fs, Path path, Iterator<String> actions) throws IOException {
    try (OutputStream out = fs.create(path, true)) {
      while (actions.hasNext()) {
        out.write((actions.next() + "\n").getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  private static String tableKey(Path log) {
    return log.toString();
  }

  private static Map<String, AttributeValue> key(Path log, String name) {
    Map<String, AttributeValue> key = new HashMap<>();
    key.put("tablePath", AttributeValue.fromS(tableKey(log)));
    key.put("fileName", AttributeValue.fromS(name));
    return key;
  }
}
