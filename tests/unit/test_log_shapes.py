"""Log lines in the shapes of common service logs (OpenSSH, Apache, Linux syslog, HDFS, OpenStack,
Hadoop, Spark, ZooKeeper, Java, JSON, klog, CRI): every IPv4 address and e-mail is found, and the
ids, counters, block numbers, hashes and timestamps these formats are full of are not read as
phones, cards, national ids or secrets. The lines are written here (made-up values)."""

import ipaddress
import re

import pytest

from veil.detectors import default_detectors, scan

LINES = [
    'Dec 11 07:14:02 LabHost sshd[31544]: Invalid user oracle from 198.51.100.23',
    'Dec 11 07:14:02 LabHost sshd[31544]: input_userauth_request: invalid user oracle [preauth]',
    'Dec 11 07:14:05 LabHost sshd[31544]: Failed password for invalid user oracle from 198.51.100.23 port 51234 ssh2',
    'Dec 11 07:14:09 LabHost sshd[31550]: reverse mapping checking getaddrinfo for 198-51-100-23.static.example.net [198.51.100.23] failed - POSSIBLE BREAK-IN ATTEMPT!',
    'Dec 11 07:14:12 LabHost sshd[31550]: Received disconnect from 203.0.113.9: 11: Bye Bye [preauth]',
    'Dec 11 07:14:15 LabHost sshd[31552]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root',
    'Dec 11 07:14:15 LabHost sshd[31552]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root',
    'Dec 11 07:14:20 LabHost sshd[31560]: Accepted password for fred from 192.0.2.44 port 60222 ssh2',
    'Dec 11 07:14:22 LabHost sshd[31560]: Connection closed by 192.0.2.44 [preauth]',
    '[Mon Dec 05 03:12:44 2005] [notice] jk2_init() Found child 7781 in scoreboard slot 9',
    '[Mon Dec 05 03:12:46 2005] [error] [client 198.51.100.77] Directory index forbidden by rule: /var/www/html/',
    '[Mon Dec 05 03:12:49 2005] [error] mod_jk child workerEnv in error state 6',
    'Jun 16 04:10:21 combo sshd(pam_unix)[21004]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=203.0.113.145  user=root',
    'Jun 16 04:10:22 combo sshd(pam_unix)[21006]: check pass; user unknown',
    'Jun 16 04:10:25 combo sshd(pam_unix)[21010]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=pool-203-0-113-145.dsl.example.net',
    'Jul 10 21:50:11 combo ftpd[25011]: connection from 198.51.100.130 (host130.198.51.100.example.net) at Sun Jul 10 21:50:11 2005',
    'Jul 10 21:52:41 combo su(pam_unix)[25120]: session opened for user cyrus by (uid=0)',
    'Jul 10 21:52:43 combo logrotate: ALERT exited abnormally with [1]',
    '081110 213622 152 INFO dfs.DataNode$PacketResponder: PacketResponder 2 for block blk_48865049064139661 terminating',
    '081110 213625 35 INFO dfs.DataNode$DataXceiver: Receiving block blk_-2608999687919862907 src: /10.251.73.220:54106 dest: /10.251.73.220:50010',
    '081110 213631 19 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.43.191:50010 is added to blk_7503483334202473045 size 67108864',
    '081110 213644 28 INFO dfs.DataNode: 10.250.14.224:50010 Served block blk_-3544583377289625739 to /10.251.42.84',
    'nova-api.log.1.2017-05-17_12:02:19 2017-05-17 00:00:01.112 25801 INFO nova.osapi_compute.wsgi.server [req-48101a0b-2096-447d-96ea-a692162415af 213d3a99c3da401fbd62cc2caa5b96d3 64fadb412c4e40cdbaed9335e4c35a9f - - -] 10.21.10.1 "GET /v2/64fadb412c4e40cdbaed9335e4c35a9f/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829',
    'nova-compute.log.1.2017-05-17_12:02:35 2017-05-17 00:00:04.500 2931 INFO nova.compute.manager [req-4b2c1f3e-6d7e-4a2b-9c3d-1e2f3a4b5c6d - - - - -] [instance: c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f] VM Started (Lifecycle Event)',
    'nova-compute.log.1.2017-05-17_12:02:35 2017-05-17 00:00:05.010 2931 INFO nova.virt.libvirt.imagecache [req-addc1839-2ed5-4778-b57e-5854eb7b8b09 - - - - -] image 0673dd71-34c5-4fbb-86c4-40623fbe45b4 at (/var/lib/nova/instances/_base/a489c868f0c37da93b76227c91bb03908ac0e742): checking',
    '2015-10-19 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0021_000001',
    '2015-10-19 18:01:52,110 INFO [main] org.apache.hadoop.yarn.client.RMProxy: Connecting to ResourceManager at msra-sa-41/10.190.173.170:8030',
    '2015-10-19 18:02:10,312 WARN [LeaseRenewer:msrabi@msra-sa-41:9000] org.apache.hadoop.ipc.Client: Address change detected. Old: msra-sa-41/10.190.173.170:9000 New: msra-sa-41:9000',
    '2015-10-19 18:03:12,500 INFO [RMCommunicator Allocator] org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Assigned container container_1445144423722_0021_01_000008 to attempt_1445144423722_0021_m_000006_0',
    '2015-10-19 18:04:00,020 INFO [ContainerLauncher #3] org.apache.hadoop.yarn.client.api.impl.ContainerManagementProtocolProxy: Opening proxy : MININT-AB12CDE.fareast.corp.example.com:52368',
    '17/06/10 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]',
    '17/06/10 20:10:41 INFO spark.SecurityManager: SecurityManager: authentication disabled; ui acls disabled; users with view permissions: Set(yarn, curi); users with modify permissions: Set(yarn, curi)',
    '17/06/10 20:10:42 INFO executor.CoarseGrainedExecutorBackend: Connecting to driver: spark://CoarseGrainedScheduler@10.10.34.12:48069',
    '17/06/10 20:10:43 INFO storage.DiskBlockManager: Created local directory at /opt/hdfs/nodemanager/usercache/curi/appcache/application_1485248649253_0148/blockmgr-70293f72-844a-4b39-9ad6-fb0ad7e364e4',
    '17/06/10 20:10:45 INFO storage.MemoryStore: Block broadcast_9_piece0 stored as bytes in memory (estimated size 5.2 KB, free 413.9 MB)',
    '2015-07-30 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200',
    '2015-07-30 17:41:45,001 - INFO  [NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxnFactory@197] - Accepted socket connection from /10.10.34.13:56471',
    '2015-07-30 17:41:45,020 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@679] - Interrupted while waiting for message on queue',
    '2015-07-30 17:41:45,080 - INFO  [WorkerReceiver[myid=1]:FastLeaderElection@597] - Notification: 1 (n.leader), 0x700000197 (n.zxid), 0x1 (n.round), LOOKING (n.state), 1 (n.sid), 0x7 (n.peerEpoch) FOLLOWING (my.state)',
    '2015-07-30 17:41:46,300 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:Learner@323] - Getting a diff from the leader 0x800000000',
    '2015-07-30 17:41:46,500 - INFO  [CommitProcessor:1:ZooKeeperServer@595] - Established session 0x14ed93111f20027 with negotiated timeout 10000 for client /10.10.34.13:37177',
    '2023-03-01T10:15:30.123Z INFO  [http-nio-8080-exec-4] c.e.shop.OrderController - order 184467 placed by jane.doe@example.org from 198.51.100.201',
    '2023-03-01T10:15:30.456Z ERROR [pool-2-thread-1] c.e.shop.PaymentClient - timeout after 30000 ms calling https://payments.internal.example:8443/v1/charge',
    '{"ts":"2023-03-01T10:15:31Z","level":"info","msg":"login ok","user":"mkovacs","client_ip":"203.0.113.55","host":"app-eu-2"}',
    'I0301 10:15:32.123456       1 controller.go:114] "Reconciling" pod="default/web-7d9f8b6c5-x2kzq" node="ip-10-0-3-17.ec2.internal" podIP="10.244.1.23"',
    '2023-03-01T10:15:33.000000000Z stderr F level=info msg="connection accepted" remote=192.0.2.200:41522 user=deploy',
]

_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}")
#: entities that have no business on these lines
_NOISE = {"PHONE", "CREDIT_CARD", "NL_BSN", "CA_SIN", "IN_AADHAAR", "DE_TAX_ID", "FR_NIR", "US_SSN", "IBAN",
          "HIGH_ENTROPY_SECRET", "API_KEY", "PASSWORD", "PERSON", "ORGANIZATION", "AWS_ACCOUNT_ID"}


@pytest.fixture(scope="module")
def found():
    detectors = default_detectors()
    return [scan(line, detectors) for line in LINES]


def test_every_ipv4_address_and_email_is_found(found):
    for line, fs in zip(LINES, found):
        def covered(a: int, b: int, fs=fs) -> bool:
            return any(f.start <= a and b <= f.end for f in fs)
        for m in _IPV4.finditer(line):
            ip = ipaddress.ip_address(m.group())
            if ip.is_unspecified or ip.is_loopback or m.group() == "255.255.255.255":
                continue
            assert covered(*m.span()), (line, m.group())
        for m in _EMAIL.finditer(line):
            assert covered(*m.span()), (line, m.group())


def test_ids_counters_and_timestamps_are_not_read_as_numbers_of_people_or_secrets(found):
    noise = [(line[f.start:f.end], f.entity) for line, fs in zip(LINES, found) for f in fs if f.entity in _NOISE]
    assert noise == []


def test_little_of_such_logs_is_marked(found):
    marked = sum(f.end - f.start for fs in found for f in fs)
    assert marked / sum(map(len, LINES)) < 0.15
