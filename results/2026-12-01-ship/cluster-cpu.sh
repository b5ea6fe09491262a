#!/usr/bin/env bash
# Where the CPU goes while `ringlog ship` sends blocks into a 3-server cluster on this host.
set -euo pipefail
cd /work/main
s=$(mktemp -d); pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null; rm -rf "$s"' EXIT
build/bin/stress --count 2000000 --payload 64 --dir "$s/journal" --keep --segment-bytes 67108864 >/dev/null
ports=(24222 24223 24224) routes=(26222 26223 26224)
for i in 0 1 2; do
  r=""; for j in 0 1 2; do [ $j = $i ] || r="$r${r:+, }nats-route://127.0.0.1:${routes[$j]}"; done
  printf 'server_name: n%s\nlisten: 127.0.0.1:%s\njetstream { store_dir: "%s" }\ncluster { name: c\n listen: 127.0.0.1:%s\n routes: [ %s ] }\n' $i ${ports[$i]} "$s/n$i" ${routes[$i]} "$r" > "$s/n$i.conf"
  /usr/sbin/nats-server -c "$s/n$i.conf" > "$s/n$i.log" 2>&1 & pids+=($!)
done
sleep 3
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
urls=nats://127.0.0.1:24222,nats://127.0.0.1:24223,nats://127.0.0.1:24224
for run in 1 2 3; do
  # a warm stream first, so the timed run pays no leader election
  build/bin/ringlog ship "$s/journal" --nats $urls --stream W$run --subject w.$run --replicas 3 --until-caught-up --report-every 600 >/dev/null
  before=$(ticks "${pids[@]}"); start=$(date +%s.%N)
  build/bin/ringlog ship "$s/journal" --nats $urls --stream C$run --subject c.$run --replicas 3 --until-caught-up --report-every 600 | tail -1 | sed 's/.*this run shipped//'
  end=$(date +%s.%N); after=$(ticks "${pids[@]}")
  echo "run $run: nats-servers $(echo "($after - $before) / 100" | bc -l | cut -c1-5) CPU-s in $(echo "$end - $start" | bc -l | cut -c1-5) s wall"
done
