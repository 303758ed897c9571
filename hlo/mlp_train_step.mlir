module @mlp_train_step attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%v0: tensor<4x8xf32>, %v1: tensor<4x8xf32>, %v2: tensor<8x16xf32> {tf.aliasing_output = 1 : i32}, %v3: tensor<8x16xf32> {tf.aliasing_output = 2 : i32}, %v4: tensor<16x8xf32> {tf.aliasing_output = 3 : i32}, %v5: tensor<8x16xf32> {tf.aliasing_output = 4 : i32}, %v6: tensor<8x16xf32> {tf.aliasing_output = 5 : i32}, %v7: tensor<16x8xf32> {tf.aliasing_output = 6 : i32}, %v8: tensor<8x16xf32> {tf.aliasing_output = 7 : i32}, %v9: tensor<8x16xf32> {tf.aliasing_output = 8 : i32}, %v10: tensor<16x8xf32> {tf.aliasing_output = 9 : i32}, %v11: tensor<i32>) -> (tensor<f32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>) {
    %v12 = "stablehlo.dot_general"(%v0, %v2) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
    %v13 = "stablehlo.multiply"(%v12, %v12) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v14 = "stablehlo.multiply"(%v13, %v12) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v15 = "stablehlo.constant"() {value = dense<4.4715e-2> : tensor<f32>} : () -> tensor<f32>
    %v16 = "stablehlo.broadcast_in_dim"(%v15) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<4x16xf32>
    %v17 = "stablehlo.multiply"(%v14, %v16) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v18 = "stablehlo.add"(%v12, %v17) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v19 = "stablehlo.constant"() {value = dense<7.978845608028654e-1> : tensor<f32>} : () -> tensor<f32>
    %v20 = "stablehlo.broadcast_in_dim"(%v19) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<4x16xf32>
    %v21 = "stablehlo.multiply"(%v18, %v20) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v22 = "stablehlo.constant"() {value = dense<5.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v23 = "stablehlo.broadcast_in_dim"(%v22) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<4x16xf32>
    %v24 = "stablehlo.multiply"(%v12, %v23) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v25 = "stablehlo.tanh"(%v21) : (tensor<4x16xf32>) -> tensor<4x16xf32>
    %v26 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v27 = "stablehlo.broadcast_in_dim"(%v26) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<4x16xf32>
    %v28 = "stablehlo.add"(%v25, %v27) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v29 = "stablehlo.multiply"(%v24, %v28) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v30 = "stablehlo.dot_general"(%v0, %v3) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
    %v31 = "stablehlo.multiply"(%v29, %v30) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v32 = "stablehlo.dot_general"(%v31, %v4) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>} : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
    %v33 = "stablehlo.subtract"(%v32, %v1) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %v34 = "stablehlo.multiply"(%v33, %v33) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %v35_init = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v35 = "stablehlo.reduce"(%v34, %v35_init) ({
      ^bb0(%v35_c_a: tensor<f32>, %v35_c_b: tensor<f32>):
        %v35_c_r = "stablehlo.add"(%v35_c_a, %v35_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v35_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 0, 1>} : (tensor<4x8xf32>, tensor<f32>) -> tensor<f32>
    %v36 = "stablehlo.constant"() {value = dense<3.2e1> : tensor<f32>} : () -> tensor<f32>
    %v37 = "stablehlo.divide"(%v35, %v36) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v38 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v39 = "stablehlo.divide"(%v38, %v36) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v43 = "stablehlo.broadcast_in_dim"(%v39) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<4x8xf32>
    %v44 = "stablehlo.multiply"(%v43, %v33) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %v45 = "stablehlo.multiply"(%v43, %v33) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %v46 = "stablehlo.add"(%v44, %v45) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %v48 = "stablehlo.dot_general"(%v46, %v4) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [1]>} : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
    %v49 = "stablehlo.dot_general"(%v46, %v31) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [0], rhs_contracting_dimensions = [0]>} : (tensor<4x8xf32>, tensor<4x16xf32>) -> tensor<8x16xf32>
    %v50 = "stablehlo.transpose"(%v49) {permutation = array<i64: 1, 0>} : (tensor<8x16xf32>) -> tensor<16x8xf32>
    %v51 = "stablehlo.multiply"(%v48, %v30) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v52 = "stablehlo.multiply"(%v48, %v29) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v54 = "stablehlo.dot_general"(%v52, %v0) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [0], rhs_contracting_dimensions = [0]>} : (tensor<4x16xf32>, tensor<4x8xf32>) -> tensor<16x8xf32>
    %v55 = "stablehlo.transpose"(%v54) {permutation = array<i64: 1, 0>} : (tensor<16x8xf32>) -> tensor<8x16xf32>
    %v56 = "stablehlo.multiply"(%v51, %v28) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v57 = "stablehlo.multiply"(%v51, %v24) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v58 = "stablehlo.multiply"(%v25, %v25) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v59 = "stablehlo.negate"(%v58) : (tensor<4x16xf32>) -> tensor<4x16xf32>
    %v60 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v61 = "stablehlo.broadcast_in_dim"(%v60) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<4x16xf32>
    %v62 = "stablehlo.add"(%v59, %v61) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v63 = "stablehlo.multiply"(%v57, %v62) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v64 = "stablehlo.multiply"(%v56, %v23) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v66 = "stablehlo.multiply"(%v63, %v20) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v68 = "stablehlo.add"(%v64, %v66) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v69 = "stablehlo.multiply"(%v66, %v16) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v71 = "stablehlo.multiply"(%v69, %v12) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v72 = "stablehlo.multiply"(%v69, %v13) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v73 = "stablehlo.add"(%v68, %v72) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v74 = "stablehlo.multiply"(%v71, %v12) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v75 = "stablehlo.multiply"(%v71, %v12) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v76 = "stablehlo.add"(%v73, %v74) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v77 = "stablehlo.add"(%v76, %v75) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
    %v79 = "stablehlo.dot_general"(%v77, %v0) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [0], rhs_contracting_dimensions = [0]>} : (tensor<4x16xf32>, tensor<4x8xf32>) -> tensor<16x8xf32>
    %v80 = "stablehlo.transpose"(%v79) {permutation = array<i64: 1, 0>} : (tensor<16x8xf32>) -> tensor<8x16xf32>
    %v81 = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v82 = "stablehlo.multiply"(%v80, %v80) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v83_init = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v83 = "stablehlo.reduce"(%v82, %v83_init) ({
      ^bb0(%v83_c_a: tensor<f32>, %v83_c_b: tensor<f32>):
        %v83_c_r = "stablehlo.add"(%v83_c_a, %v83_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v83_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 0, 1>} : (tensor<8x16xf32>, tensor<f32>) -> tensor<f32>
    %v84 = "stablehlo.add"(%v81, %v83) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v85 = "stablehlo.multiply"(%v55, %v55) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v86_init = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v86 = "stablehlo.reduce"(%v85, %v86_init) ({
      ^bb0(%v86_c_a: tensor<f32>, %v86_c_b: tensor<f32>):
        %v86_c_r = "stablehlo.add"(%v86_c_a, %v86_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v86_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 0, 1>} : (tensor<8x16xf32>, tensor<f32>) -> tensor<f32>
    %v87 = "stablehlo.add"(%v84, %v86) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v88 = "stablehlo.multiply"(%v50, %v50) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v89_init = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v89 = "stablehlo.reduce"(%v88, %v89_init) ({
      ^bb0(%v89_c_a: tensor<f32>, %v89_c_b: tensor<f32>):
        %v89_c_r = "stablehlo.add"(%v89_c_a, %v89_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v89_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 0, 1>} : (tensor<16x8xf32>, tensor<f32>) -> tensor<f32>
    %v90 = "stablehlo.add"(%v87, %v89) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v91 = "stablehlo.sqrt"(%v90) : (tensor<f32>) -> tensor<f32>
    %v92 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v93 = "stablehlo.compare"(%v91, %v92) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>
    %v94 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v95 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v96 = "stablehlo.divide"(%v95, %v91) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v97 = "stablehlo.select"(%v93, %v94, %v96) : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
    %v98 = "stablehlo.convert"(%v11) : (tensor<i32>) -> tensor<f32>
    %v99 = "stablehlo.constant"() {value = dense<1.0e-4> : tensor<f32>} : () -> tensor<f32>
    %v100 = "stablehlo.multiply"(%v98, %v99) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v101 = "stablehlo.constant"() {value = dense<1.0e1> : tensor<f32>} : () -> tensor<f32>
    %v102 = "stablehlo.subtract"(%v98, %v101) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v103 = "stablehlo.constant"() {value = dense<9.0e1> : tensor<f32>} : () -> tensor<f32>
    %v104 = "stablehlo.divide"(%v102, %v103) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v105 = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v106 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v107 = "stablehlo.clamp"(%v105, %v104, %v106) : (tensor<f32>, tensor<f32>, tensor<f32>) -> tensor<f32>
    %v108 = "stablehlo.constant"() {value = dense<3.141592653589793e0> : tensor<f32>} : () -> tensor<f32>
    %v109 = "stablehlo.multiply"(%v107, %v108) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v110 = "stablehlo.cosine"(%v109) : (tensor<f32>) -> tensor<f32>
    %v111 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v112 = "stablehlo.add"(%v110, %v111) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v113 = "stablehlo.constant"() {value = dense<5.0e-4> : tensor<f32>} : () -> tensor<f32>
    %v114 = "stablehlo.multiply"(%v112, %v113) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v115 = "stablehlo.constant"() {value = dense<1.0e1> : tensor<f32>} : () -> tensor<f32>
    %v116 = "stablehlo.compare"(%v98, %v115) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>
    %v117 = "stablehlo.select"(%v116, %v100, %v114) : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
    %v118 = "stablehlo.convert"(%v11) : (tensor<i32>) -> tensor<f32>
    %v119 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v120 = "stablehlo.add"(%v118, %v119) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v121 = "stablehlo.constant"() {value = dense<9.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v122 = "stablehlo.power"(%v121, %v120) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v123 = "stablehlo.negate"(%v122) : (tensor<f32>) -> tensor<f32>
    %v124 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v125 = "stablehlo.add"(%v123, %v124) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v126 = "stablehlo.constant"() {value = dense<9.9e-1> : tensor<f32>} : () -> tensor<f32>
    %v127 = "stablehlo.power"(%v126, %v120) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v128 = "stablehlo.negate"(%v127) : (tensor<f32>) -> tensor<f32>
    %v129 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v130 = "stablehlo.add"(%v128, %v129) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    %v131 = "stablehlo.broadcast_in_dim"(%v97) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v132 = "stablehlo.multiply"(%v80, %v131) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v133 = "stablehlo.constant"() {value = dense<9.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v134 = "stablehlo.broadcast_in_dim"(%v133) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v135 = "stablehlo.multiply"(%v5, %v134) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v136 = "stablehlo.constant"() {value = dense<9.999999999999998e-2> : tensor<f32>} : () -> tensor<f32>
    %v137 = "stablehlo.broadcast_in_dim"(%v136) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v138 = "stablehlo.multiply"(%v132, %v137) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v139 = "stablehlo.add"(%v135, %v138) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v140 = "stablehlo.constant"() {value = dense<9.9e-1> : tensor<f32>} : () -> tensor<f32>
    %v141 = "stablehlo.broadcast_in_dim"(%v140) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v142 = "stablehlo.multiply"(%v8, %v141) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v143 = "stablehlo.multiply"(%v132, %v132) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v144 = "stablehlo.constant"() {value = dense<1.0000000000000009e-2> : tensor<f32>} : () -> tensor<f32>
    %v145 = "stablehlo.broadcast_in_dim"(%v144) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v146 = "stablehlo.multiply"(%v143, %v145) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v147 = "stablehlo.add"(%v142, %v146) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v148 = "stablehlo.broadcast_in_dim"(%v125) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v149 = "stablehlo.divide"(%v139, %v148) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v150 = "stablehlo.broadcast_in_dim"(%v130) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v151 = "stablehlo.divide"(%v147, %v150) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v152 = "stablehlo.sqrt"(%v151) : (tensor<8x16xf32>) -> tensor<8x16xf32>
    %v153 = "stablehlo.constant"() {value = dense<1.0e-8> : tensor<f32>} : () -> tensor<f32>
    %v154 = "stablehlo.broadcast_in_dim"(%v153) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v155 = "stablehlo.add"(%v152, %v154) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v156 = "stablehlo.divide"(%v149, %v155) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v157 = "stablehlo.constant"() {value = dense<1.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v158 = "stablehlo.broadcast_in_dim"(%v157) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v159 = "stablehlo.multiply"(%v2, %v158) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v160 = "stablehlo.add"(%v156, %v159) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v161 = "stablehlo.broadcast_in_dim"(%v117) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v162 = "stablehlo.multiply"(%v160, %v161) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v163 = "stablehlo.subtract"(%v2, %v162) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v164 = "stablehlo.broadcast_in_dim"(%v97) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v165 = "stablehlo.multiply"(%v55, %v164) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v166 = "stablehlo.constant"() {value = dense<9.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v167 = "stablehlo.broadcast_in_dim"(%v166) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v168 = "stablehlo.multiply"(%v6, %v167) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v169 = "stablehlo.constant"() {value = dense<9.999999999999998e-2> : tensor<f32>} : () -> tensor<f32>
    %v170 = "stablehlo.broadcast_in_dim"(%v169) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v171 = "stablehlo.multiply"(%v165, %v170) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v172 = "stablehlo.add"(%v168, %v171) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v173 = "stablehlo.constant"() {value = dense<9.9e-1> : tensor<f32>} : () -> tensor<f32>
    %v174 = "stablehlo.broadcast_in_dim"(%v173) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v175 = "stablehlo.multiply"(%v9, %v174) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v176 = "stablehlo.multiply"(%v165, %v165) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v177 = "stablehlo.constant"() {value = dense<1.0000000000000009e-2> : tensor<f32>} : () -> tensor<f32>
    %v178 = "stablehlo.broadcast_in_dim"(%v177) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v179 = "stablehlo.multiply"(%v176, %v178) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v180 = "stablehlo.add"(%v175, %v179) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v181 = "stablehlo.broadcast_in_dim"(%v125) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v182 = "stablehlo.divide"(%v172, %v181) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v183 = "stablehlo.broadcast_in_dim"(%v130) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v184 = "stablehlo.divide"(%v180, %v183) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v185 = "stablehlo.sqrt"(%v184) : (tensor<8x16xf32>) -> tensor<8x16xf32>
    %v186 = "stablehlo.constant"() {value = dense<1.0e-8> : tensor<f32>} : () -> tensor<f32>
    %v187 = "stablehlo.broadcast_in_dim"(%v186) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v188 = "stablehlo.add"(%v185, %v187) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v189 = "stablehlo.divide"(%v182, %v188) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v190 = "stablehlo.constant"() {value = dense<1.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v191 = "stablehlo.broadcast_in_dim"(%v190) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v192 = "stablehlo.multiply"(%v3, %v191) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v193 = "stablehlo.add"(%v189, %v192) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v194 = "stablehlo.broadcast_in_dim"(%v117) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<8x16xf32>
    %v195 = "stablehlo.multiply"(%v193, %v194) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v196 = "stablehlo.subtract"(%v3, %v195) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    %v197 = "stablehlo.broadcast_in_dim"(%v97) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v198 = "stablehlo.multiply"(%v50, %v197) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v199 = "stablehlo.constant"() {value = dense<9.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v200 = "stablehlo.broadcast_in_dim"(%v199) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v201 = "stablehlo.multiply"(%v7, %v200) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v202 = "stablehlo.constant"() {value = dense<9.999999999999998e-2> : tensor<f32>} : () -> tensor<f32>
    %v203 = "stablehlo.broadcast_in_dim"(%v202) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v204 = "stablehlo.multiply"(%v198, %v203) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v205 = "stablehlo.add"(%v201, %v204) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v206 = "stablehlo.constant"() {value = dense<9.9e-1> : tensor<f32>} : () -> tensor<f32>
    %v207 = "stablehlo.broadcast_in_dim"(%v206) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v208 = "stablehlo.multiply"(%v10, %v207) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v209 = "stablehlo.multiply"(%v198, %v198) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v210 = "stablehlo.constant"() {value = dense<1.0000000000000009e-2> : tensor<f32>} : () -> tensor<f32>
    %v211 = "stablehlo.broadcast_in_dim"(%v210) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v212 = "stablehlo.multiply"(%v209, %v211) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v213 = "stablehlo.add"(%v208, %v212) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v214 = "stablehlo.broadcast_in_dim"(%v125) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v215 = "stablehlo.divide"(%v205, %v214) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v216 = "stablehlo.broadcast_in_dim"(%v130) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v217 = "stablehlo.divide"(%v213, %v216) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v218 = "stablehlo.sqrt"(%v217) : (tensor<16x8xf32>) -> tensor<16x8xf32>
    %v219 = "stablehlo.constant"() {value = dense<1.0e-8> : tensor<f32>} : () -> tensor<f32>
    %v220 = "stablehlo.broadcast_in_dim"(%v219) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v221 = "stablehlo.add"(%v218, %v220) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v222 = "stablehlo.divide"(%v215, %v221) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v223 = "stablehlo.constant"() {value = dense<1.0e-1> : tensor<f32>} : () -> tensor<f32>
    %v224 = "stablehlo.broadcast_in_dim"(%v223) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v225 = "stablehlo.multiply"(%v4, %v224) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v226 = "stablehlo.add"(%v222, %v225) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v227 = "stablehlo.broadcast_in_dim"(%v117) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<16x8xf32>
    %v228 = "stablehlo.multiply"(%v226, %v227) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    %v229 = "stablehlo.subtract"(%v4, %v228) : (tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<16x8xf32>
    return %v37, %v163, %v196, %v229, %v139, %v172, %v205, %v147, %v180, %v213 : tensor<f32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<16x8xf32>
  }
}
