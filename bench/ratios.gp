# ratios.gp — the chart of bench/RESULTS.md: kiln's speed relative to PyTorch
# and onnxruntime per whole-model case (other's time / kiln's; above 1:
# kiln is faster), log scale. bench/run.sh runs
#   gnuplot -e "data='RATIOS.dat'; out='bench/ratios.png'" bench/ratios.gp
set terminal pngcairo size 1000,520 font "DejaVu Sans,10" noenhanced
set output out
set title "kiln's speed relative to PyTorch and onnxruntime, single thread (higher: kiln faster)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.0078125:64]
set ylabel "other's time / kiln's time"
set xtics rotate by -30 scale 0
set grid ytics
set key top right Left reverse
set datafile missing "-"
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb "black"
plot data using 2:xtic(1) title "vs PyTorch" lc rgb "#4c72b0", \
     '' using 3 title "vs onnxruntime" lc rgb "#dd8452", \
     '' using 4 title "vs onnxruntime minus its per-call overhead" lc rgb "#55a868"
