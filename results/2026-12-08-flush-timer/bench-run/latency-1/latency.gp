set terminal pngcairo size 1200,700
set output 'results/2026-12-08-flush-timer/bench-run/latency-1/latency.png'
set logscale x
set logscale y
set grid
set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000)
set xlabel 'percentile'
set ylabel 'latency (µs)'
set key top left
set title 'ringlog latency by percentile'
plot 'results/2026-12-08-flush-timer/bench-run/latency-1/raw_round_trip.hgrm' skip 2 using 4:1 with lines lw 2 title 'raw cache-line round trip', 'results/2026-12-08-flush-timer/bench-run/latency-1/raw_record_round_trip.hgrm' skip 2 using 4:1 with lines lw 2 title 'raw 80-byte record round trip', 'results/2026-12-08-flush-timer/bench-run/latency-1/ring_round_trip.hgrm' skip 2 using 4:1 with lines lw 2 title 'ringlog round trip (two rings)', 'results/2026-12-08-flush-timer/bench-run/latency-1/ring_claim_poll_round_trip.hgrm' skip 2 using 4:1 with lines lw 2 title 'ringlog claim/poll round trip', 'results/2026-12-08-flush-timer/bench-run/latency-1/boost_spsc_queue_round_trip.hgrm' skip 2 using 4:1 with lines lw 2 title 'boost spsc_queue round trip', 'results/2026-12-08-flush-timer/bench-run/latency-1/moodycamel_round_trip.hgrm' skip 2 using 4:1 with lines lw 2 title 'moodycamel queue round trip', 'results/2026-12-08-flush-timer/bench-run/latency-1/one_way_100000.hgrm' skip 2 using 4:1 with lines lw 2 title 'one-way at 100k events/s', 'results/2026-12-08-flush-timer/bench-run/latency-1/raw_one_way_1000000.hgrm' skip 2 using 4:1 with lines lw 2 title 'raw one-way at 1M events/s', 'results/2026-12-08-flush-timer/bench-run/latency-1/one_way_1000000.hgrm' skip 2 using 4:1 with lines lw 2 title 'one-way at 1M events/s', 'results/2026-12-08-flush-timer/bench-run/latency-1/one_way_10000000.hgrm' skip 2 using 4:1 with lines lw 2 title 'one-way at 10M events/s', 'results/2026-12-08-flush-timer/bench-run/latency-1/one_way_saturated.hgrm' skip 2 using 4:1 with lines lw 2 title 'one-way, saturated'
